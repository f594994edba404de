package containerd

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
)

// TestDaemonRestartIsNoExit: containerd restarting under a running
// container (its shim runs it on) is not the container's exit: nobody
// is told it exited, no exit is recorded, and once the daemon is back
// the container's real end is seen, with how it ended.
func TestDaemonRestartIsNoExit(t *testing.T) {
	hostctrd.Require(t)
	if !hostctrd.HasOverlay() {
		t.Skip("no overlay filesystem for containerd's snapshotter")
	}
	daemon := hostctrd.SettingsIn(t.TempDir(), hostctrd.RuntimeForTest(t))
	d, err := hostctrd.Start(daemon, hostctrd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
	})
	e := newTestEnvOn(t, settingsFor(t, daemon))
	ctx := context.Background()
	img, err := e.rt.EnsureImage(ctx, e.ref, PullIfNotPresent, e.auth)
	if err != nil {
		t.Fatal(err)
	}
	// runc's state is the host's: a name of this run only.
	id := fmt.Sprintf("survivor-%d", time.Now().UnixNano())
	labels := map[string]string{LabelPodUID: "uid-restart", LabelContainerName: "survivor"}
	if err := e.rt.Create(ctx, id, img, labels, []oci.SpecOpts{oci.WithProcessArgs("/podapp", "sleep", "300")}); err != nil {
		t.Fatal(err)
	}
	exits := make(chan string, 1)
	log := newTestLog()
	if err := e.rt.Start(ctx, id, log, func(id string) { exits <- id }); err != nil {
		t.Fatal(err)
	}

	if err := d.Interrupt(); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-exits:
		t.Fatalf("%s reported exited while containerd restarted", id)
	case <-time.After(2 * time.Second):
	}
	if d, err = hostctrd.Start(daemon, hostctrd.Options{}); err != nil {
		t.Fatal(err)
	}
	// The client finds the daemon again at its next reconnection.
	l, err := e.rt.List(ctx, "uid-restart")
	for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		l, err = e.rt.List(ctx, "uid-restart")
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 || l[0].State != Running || l[0].Exit != nil {
		t.Fatalf("after containerd restarted: %+v, want survivor running with no exit recorded", l)
	}

	if err := e.rt.Stop(ctx, id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exits:
	case <-time.After(30 * time.Second):
		t.Fatal("the container's end after containerd restarted was not seen")
	}
	if l, err = e.rt.List(ctx, "uid-restart"); err != nil || len(l) != 1 || l[0].Exit == nil || l[0].Exit.Code != 0 || l[0].Exit.Reason != "Completed" {
		t.Fatalf("after the stop: %+v %v, want exit 0 Completed", l, err)
	}
	if out := log.wait(t); !strings.Contains(out, "podapp: SIGTERM") {
		t.Errorf("log %q lacks the SIGTERM line: output is lost after containerd restarted", out)
	}
}
