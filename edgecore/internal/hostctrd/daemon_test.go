package hostctrd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	initctrd "github.com/edgegate/edgegate/init/containerd"
)

func TestTail(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 8, ""},
		{"short\n", 8, "short\n"},
		{"one\ntwo\nthree\n", 8, "three\n"},       // from the first line start in the end
		{"one\ntwo\nthree\n", 9, "three\n"},       // a cut line is left out
		{"one\ntwo\nthree\n", 11, "two\nthree\n"}, // lines the end holds whole stay
		{"one long line", 4, "line"},              // no line start: the bytes
		{"first\nsecond", 7, "second"},            // the last line may be open
	} {
		if got := string(tail([]byte(tt.in), tt.n)); got != tt.want {
			t.Errorf("tail(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestMountsUnder(t *testing.T) {
	const mounts = `/dev/root / ext4 rw 0 0
tmpfs /tmp/x tmpfs rw 0 0
overlay /tmp/x/state/io.containerd.runtime.v2.task/ns/a/rootfs overlay rw 0 0
shm /tmp/x/root/io.containerd.grpc.v1.cri/sandboxes/s/shm tmpfs rw 0 0
overlay /tmp/xy/state/b/rootfs overlay rw 0 0
`
	got := mountsUnder(mounts, []string{"/tmp/x/root", "/tmp/x/state"})
	want := []string{"/tmp/x/state/io.containerd.runtime.v2.task/ns/a/rootfs", "/tmp/x/root/io.containerd.grpc.v1.cri/sandboxes/s/shm"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("mountsUnder = %q, want %q (neither the directories' own mounts nor a sibling's)", got, want)
	}
}

// TestSettingsInSocketsFit: the longest temporary directory a test gets
// still leaves room for containerd's sockets.
func TestSettingsInSocketsFit(t *testing.T) {
	t.Run(strings.Repeat("a-long-subtest-name-", 5), func(t *testing.T) {
		s := SettingsIn(t.TempDir(), Layout{Dir: t.TempDir()})
		for _, socket := range []string{s.Socket + ".ttrpc", s.DebugSocket} {
			if len(socket) > 107 {
				t.Errorf("socket %s is %d bytes long, more than a unix socket's 107", socket, len(socket))
			}
		}
	})
}

// fakeDaemon lays out a shell script as the daemon, written for its
// settings.
func fakeDaemon(t *testing.T, script func(initctrd.Settings) string) initctrd.Settings {
	t.Helper()
	l := Layout{Dir: t.TempDir()}
	if err := os.MkdirAll(l.Bin(), 0o755); err != nil {
		t.Fatal(err)
	}
	s := SettingsIn(t.TempDir(), l)
	if err := os.WriteFile(l.Containerd(), []byte("#!/bin/sh\n"+script(s)+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStartReportsAnEarlyExit: a daemon that ends at start fails Start at
// once (not after the start timeout), with its output; it ran with its
// configuration and its own directory first in PATH.
func TestStartReportsAnEarlyExit(t *testing.T) {
	s := fakeDaemon(t, func(initctrd.Settings) string {
		return `echo "args: $*"; echo "path: $PATH"; echo "cannot serve" >&2; exit 3`
	})
	start := time.Now()
	_, err := Start(s, Options{})
	if err == nil {
		t.Fatal("Start of a daemon that exits: no error")
	}
	for _, want := range []string{
		"containerd exited at start: exit status 3",
		"args: --config " + s.ConfigPath() + " --address " + s.Socket,
		"path: " + filepath.Dir(s.Binary) + ":",
		"cannot serve",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if took := time.Since(start); took >= startTimeout {
		t.Errorf("Start took %s to see the exit", took)
	}
	config, err := os.ReadFile(s.ConfigPath())
	if err != nil || string(config) != string(initctrd.ConfigTOML(s)) {
		t.Errorf("configuration at %s: %q (%v), want init's for these settings", s.ConfigPath(), config, err)
	}
}

// TestStartMountsTheTmpfsRootPrivately: with TmpfsMiB the daemon starts on
// a tmpfs of that size at its root, which this process does not see.
func TestStartMountsTheTmpfsRootPrivately(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	// The daemon says what it finds at its root, then ends.
	s := fakeDaemon(t, func(s initctrd.Settings) string {
		return `stat -f -c "root: %T, %b blocks of %S" ` + s.Root + `; exit 4`
	})
	_, err := Start(s, Options{TmpfsMiB: 16})
	if err == nil {
		t.Fatal("Start of a daemon that exits: no error")
	}
	if want := "root: tmpfs, 4096 blocks of 4096"; !strings.Contains(err.Error(), want) {
		t.Errorf("the daemon did not find a 16 MiB tmpfs at its root: %v", err)
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	if m := mountsUnder(string(mounts), []string{filepath.Dir(s.Root)}); len(m) > 0 {
		t.Errorf("the daemon's mounts are visible outside it: %q", m)
	}
}

// TestStartForTest runs the real daemon: it answers on its socket, its
// tmpfs root is reachable here through Root, and Stop ends it.
func TestStartForTest(t *testing.T) {
	rt := RuntimeForTest(t)
	for _, o := range []Options{{}, {TmpfsMiB: 32}} {
		d := StartForTest(t, rt, o)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := initctrd.Version(ctx, d.Settings.Socket)
		cancel()
		if err != nil || v == "" {
			t.Fatalf("%+v: version %q, %v", o, v, err)
		}
		var st syscall.Statfs_t
		if err := syscall.Statfs(d.Root(), &st); err != nil {
			t.Fatal(err)
		}
		onTmpfs := st.Type == unix.TMPFS_MAGIC && st.Blocks*uint64(st.Bsize) == 32<<20
		if onTmpfs != (o.TmpfsMiB > 0) {
			t.Errorf("%+v: root %s of type %#x, %d bytes", o, d.Root(), st.Type, st.Blocks*uint64(st.Bsize))
		}
		if err := d.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := initctrd.Version(context.Background(), d.Settings.Socket); err == nil {
			t.Errorf("%+v: containerd still answers after Stop", o)
		}
	}
}
