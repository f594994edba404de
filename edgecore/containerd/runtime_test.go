package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"

	"github.com/edgegate/edgegate/edgecore/containerd/imageuser"
	"github.com/edgegate/edgegate/qemu/registry"
)

// testNamespace keeps the tests' containers (and their cgroups) apart.
const testNamespace = "edgegate-test"

// testEnv is a daemon, a registry that wants a password, and the test
// image (podapp for this machine) pushed to it.
type testEnv struct {
	s    Settings
	rt   *Runtime
	reg  *registry.Registry
	ref  string // the image, tag 1
	ref2 string // another image (other environment), tag 2
	id   string // the index digest of ref
	auth Keyring
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvOn(t, startDaemon(t))
}

// newTestEnvOn is newTestEnv on the daemon of s.
func newTestEnvOn(t *testing.T, s Settings) *testEnv {
	t.Helper()
	s.Namespace = testNamespace
	reg := registry.Start(t, registry.Options{User: "edge", Password: "s3cret"})
	writeHosts(t, s.HostsDir, reg.Addr())
	app := registry.BuildPodapp(t, runtime.GOARCH, "")
	plat := "linux/" + runtime.GOARCH
	ctx := context.Background()
	id, err := reg.Push(ctx, "edgegate/podapp", "1", registry.BuildImage(map[string][]byte{plat: app}, "/podapp", nil, []string{"APP_MODE=sleep 300"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(ctx, "edgegate/podapp", "2", registry.BuildImage(map[string][]byte{plat: app}, "/podapp", nil, []string{"APP_MODE=sleep 301"})); err != nil {
		t.Fatal(err)
	}
	rt, err := Connect(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removeAll(t, rt)
		rt.Close()
		removeCgroups(testNamespace)
	})
	return &testEnv{
		s: s, rt: rt, reg: reg, id: id,
		ref:  reg.Addr() + "/edgegate/podapp:1",
		ref2: reg.Addr() + "/edgegate/podapp:2",
		auth: Keyring{{Host: reg.Addr(), User: "edge", Password: "s3cret"}},
	}
}

// writeHosts makes the registry plain HTTP for the daemon, as a gateway's
// /etc/containerd/certs.d does.
func writeHosts(t *testing.T, dir, addr string) {
	t.Helper()
	server := "http://" + addr
	file := filepath.Join(dir, addr, "hosts.toml")
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	content := fmt.Sprintf("server = %q\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", server, server)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func removeAll(t *testing.T, rt *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctns, err := rt.listContainers(ctx)
	if err != nil {
		t.Errorf("cleanup: %v", err)
		return
	}
	for _, c := range ctns {
		if err := rt.Remove(ctx, c.GetID()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

// removeCgroups removes the empty cgroups runc left for the namespace
// (its parent directory, on v1 in every hierarchy).
func removeCgroups(namespace string) {
	dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", namespace))
	for _, d := range append(dirs, filepath.Join("/sys/fs/cgroup", namespace)) {
		os.Remove(d)
	}
}

func TestPull(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()

	t.Run("refused without credentials", func(t *testing.T) {
		_, err := e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, nil)
		wantPullError(t, err, "401")
		_, err = e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, Keyring{{Host: e.reg.Addr(), User: "edge", Password: "wrong"}})
		wantPullError(t, err, "401")
	})
	t.Run("never pulls what is absent", func(t *testing.T) {
		_, err := e.rt.EnsureImage(ctx, e.ref, PullNever, e.auth)
		if !errors.Is(err, ErrNeverPull) {
			t.Fatalf("err = %v, want ErrNeverPull", err)
		}
	})
	t.Run("with the pull secret", func(t *testing.T) {
		img, err := e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, e.auth)
		if err != nil {
			t.Fatal(err)
		}
		if img.Ref != e.ref || img.ID != e.id {
			t.Errorf("image %s %s, want %s %s", img.Ref, img.ID, e.ref, e.id)
		}
		if got := strings.Join(img.Config.Entrypoint, " "); got != "/podapp" {
			t.Errorf("entrypoint %q, want /podapp", got)
		}
		if _, err := e.rt.snapshots.Stat(ctx, img.chainID); err != nil {
			t.Errorf("unpacked snapshot %s: %v", img.chainID, err)
		}
		if want := e.reg.Addr() + "/edgegate/podapp@" + e.id; ImageRepoDigest(img) != want {
			t.Errorf("ImageRepoDigest = %s, want %s", ImageRepoDigest(img), want)
		}
	})
	t.Run("present: no pull, no credentials needed", func(t *testing.T) {
		for _, p := range []PullPolicy{PullIfNotPresent, PullNever} {
			if _, err := e.rt.EnsureImage(ctx, e.ref, p, nil); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		_, err := e.rt.EnsureImage(ctx, e.ref, PullAlways, nil)
		wantPullError(t, err, "401")
	})
	t.Run("always pulls again", func(t *testing.T) {
		img, err := e.rt.EnsureImage(ctx, e.ref, PullAlways, e.auth)
		if err != nil || img.ID != e.id {
			t.Fatalf("image %s, %v", img.ID, err)
		}
	})
	t.Run("unknown tag", func(t *testing.T) {
		_, err := e.rt.EnsureImage(ctx, e.reg.Addr()+"/edgegate/podapp:absent", PullIfNotPresent, e.auth)
		wantPullError(t, err, "not found")
	})
	t.Run("stored but not unpacked", func(t *testing.T) {
		img, err := e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.rt.snapshots.Remove(ctx, img.chainID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.rt.EnsureImage(ctx, e.ref, PullNever, nil); err != nil {
			t.Fatalf("unpack of the stored image: %v", err)
		}
		if _, err := e.rt.snapshots.Stat(ctx, img.chainID); err != nil {
			t.Errorf("snapshot after unpack: %v", err)
		}
	})
}

func wantPullError(t *testing.T, err error, mention string) {
	t.Helper()
	var pe *PullError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PullError", err)
	}
	t.Logf("pull error: %v", err)
	if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(mention)) {
		t.Errorf("pull error %q does not mention %q", err, mention)
	}
}

func TestContainers(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	img, err := e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, e.auth)
	if err != nil {
		t.Fatal(err)
	}
	exits := make(chan string, 10)
	exited := func(id string) { exits <- id }
	create := func(t *testing.T, id string, opts ...oci.SpecOpts) {
		t.Helper()
		labels := map[string]string{LabelPodUID: "uid-1", LabelContainerName: id}
		if err := e.rt.Create(ctx, id, img, labels, opts); err != nil {
			t.Fatal(err)
		}
	}
	state := func(t *testing.T, id string) Container {
		t.Helper()
		l, err := e.rt.List(ctx, "uid-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range l {
			if c.ID == id {
				return c
			}
		}
		t.Fatalf("%s not listed", id)
		return Container{}
	}
	waitExit := func(t *testing.T, id string) Container {
		t.Helper()
		select {
		case got := <-exits:
			if got != id {
				t.Fatalf("exited %s, want %s", got, id)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not exit", id)
		}
		return state(t, id)
	}

	t.Run("exit code", func(t *testing.T) {
		create(t, "exits", oci.WithProcessArgs("/podapp", "exit", "3"))
		if c := state(t, "exits"); c.State != Created || c.Labels[LabelImageID] != ImageRepoDigest(img) {
			t.Fatalf("after create: %+v", c)
		}
		log := newTestLog()
		if err := e.rt.Start(ctx, "exits", log, exited); err != nil {
			t.Fatal(err)
		}
		c := waitExit(t, "exits")
		if c.State != Exited || c.Exit.Code != 3 || c.Exit.Reason != "Error" || c.StartedAt.IsZero() {
			t.Errorf("exit %+v, state %v", c.Exit, c.State)
		}
		log.wait(t)
	})
	t.Run("cannot run", func(t *testing.T) {
		create(t, "bad", oci.WithProcessArgs("/no/such/program"))
		if err := e.rt.Start(ctx, "bad", newTestLog(), exited); err == nil {
			t.Fatal("start of a missing program succeeded")
		}
		if c := state(t, "bad"); c.State != Exited || c.Exit.Reason != "ContainerCannotRun" {
			t.Errorf("exit %+v, state %v", c.Exit, c.State)
		}
	})
	t.Run("user from the image", func(t *testing.T) {
		create(t, "user", oci.WithProcessArgs("/podapp", "sleep", "1"), imageuser.WithUser("1000"))
		ctn, err := e.rt.container(ctx, "user")
		if err != nil {
			t.Fatal(err)
		}
		s, err := spec(ctn)
		if err != nil {
			t.Fatal(err)
		}
		if u := s.Process.User; u.UID != 1000 || u.GID != 0 {
			t.Errorf("user %+v, want uid 1000 gid 0 (no /etc/passwd in the image)", u)
		}
		err = e.rt.Create(ctx, "nouser", img, nil, []oci.SpecOpts{imageuser.WithUser("nobody")})
		if err == nil {
			t.Error("a user name the image does not know was accepted")
		}
	})
	t.Run("run, exec, stop", func(t *testing.T) {
		create(t, "web", oci.WithProcessArgs("/podapp", "sleep", "300"), oci.WithEnv([]string{"GREETING=hello"}))
		log := newTestLog()
		if err := e.rt.Start(ctx, "web", log, exited); err != nil {
			t.Fatal(err)
		}
		if c := state(t, "web"); c.State != Running {
			t.Fatalf("state %v, want Running", c.State)
		}
		code, out, err := e.rt.Exec(ctx, "web", []string{"/podapp", "print-env"})
		if err != nil || code != 0 || !strings.Contains(string(out), "GREETING=hello") {
			t.Errorf("exec print-env: %d %q %v", code, out, err)
		}
		if code, _, err := e.rt.Exec(ctx, "web", []string{"/podapp", "exit", "7"}); err != nil || code != 7 {
			t.Errorf("exec exit 7: %d %v", code, err)
		}
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, _, err = e.rt.Exec(short, "web", []string{"/podapp", "sleep", "60"})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("exec past its deadline: %v", err)
		}
		if err := e.rt.Stop(ctx, "web", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		c := waitExit(t, "web")
		if c.Exit.Code != 0 || c.Exit.Reason != "Completed" {
			t.Errorf("exit %+v after SIGTERM", c.Exit)
		}
		if out := log.wait(t); !strings.Contains(out, "podapp: SIGTERM") {
			t.Errorf("log %q lacks the SIGTERM line", out)
		}
	})
	t.Run("attach after restart", func(t *testing.T) {
		create(t, "adopted", oci.WithProcessArgs("/podapp", "sleep", "300"))
		if err := e.rt.Start(ctx, "adopted", newTestLog(), func(string) {}); err != nil {
			t.Fatal(err)
		}
		// A second client, as edgecore started again, adopts it.
		rt2, err := Connect(e.s)
		if err != nil {
			t.Fatal(err)
		}
		defer rt2.Close()
		log := newTestLog()
		if err := rt2.Attach(ctx, "adopted", log, exited); err != nil {
			t.Fatal(err)
		}
		if err := rt2.Stop(ctx, "adopted", 0); err != nil {
			t.Fatal(err)
		}
		c := waitExit(t, "adopted")
		if c.Exit == nil || c.Exit.Signal != 9 {
			t.Errorf("exit %+v, want SIGKILL", c.Exit)
		}
		log.wait(t)
	})
	t.Run("remove", func(t *testing.T) {
		for _, id := range []string{"exits", "bad", "user", "web", "adopted"} {
			if err := e.rt.Remove(ctx, id); err != nil {
				t.Errorf("remove %s: %v", id, err)
			}
			if _, err := e.rt.snapshots.Stat(ctx, id); !errdefs.IsNotFound(err) {
				t.Errorf("snapshot of %s after remove: %v", id, err)
			}
		}
		if l, err := e.rt.List(ctx, ""); err != nil || len(l) != 0 {
			t.Errorf("left: %+v %v", l, err)
		}
		if err := e.rt.Remove(ctx, "web"); err != nil {
			t.Errorf("second remove: %v", err)
		}
		if err := e.rt.Stop(ctx, "web", time.Second); err != nil {
			t.Errorf("stop of a removed container: %v", err)
		}
	})
}

// Image GC removes what no container uses, and keeps what one does.
func TestPruneImages(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	img, err := e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, e.auth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.EnsureImage(ctx, e.ref2, PullIfNotPresent, e.auth); err != nil {
		t.Fatal(err)
	}
	if err := e.rt.Create(ctx, "user", img, nil, []oci.SpecOpts{oci.WithProcessArgs("/podapp")}); err != nil {
		t.Fatal(err)
	}
	removed, err := e.rt.PruneImages(ctx, e.s.Root, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != e.ref2 {
		t.Errorf("removed %v, want [%s]", removed, e.ref2)
	}
	if _, err := e.rt.EnsureImage(ctx, e.ref, PullNever, nil); err != nil {
		t.Errorf("the image in use: %v", err)
	}
	if _, err := e.rt.EnsureImage(ctx, e.ref2, PullNever, nil); !errors.Is(err, ErrNeverPull) {
		t.Errorf("the unused image: %v, want it gone", err)
	}
}

// testLog collects a container's output.
type testLog struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	done chan struct{}
	once sync.Once
}

func newTestLog() *testLog { return &testLog{done: make(chan struct{})} }

func (l *testLog) Copy(_ string, r io.Reader) error {
	data, err := io.ReadAll(r)
	l.mu.Lock()
	l.buf.Write(data)
	l.mu.Unlock()
	return err
}

func (l *testLog) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// wait returns the output once the log is closed.
func (l *testLog) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the container's log was not closed")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
