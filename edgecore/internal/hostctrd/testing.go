package hostctrd

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	initctrd "github.com/edgegate/edgegate/init/containerd"
)

// Require skips t where no containerd may run: under -short, as it builds
// and runs a daemon, and without root.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: builds and runs containerd")
	}
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
}

// RuntimeForTest lays the runtime out in a temporary directory of t,
// building it first (once per test binary). It skips t where Require
// does or the machine cannot build the runtime, and fails it when the
// build breaks.
func RuntimeForTest(t testing.TB) Layout {
	t.Helper()
	Require(t)
	bins, err := Build()
	if errors.Is(err, ErrMissing) {
		t.Skipf("no containerd for this machine: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	l, err := LayOut(t.TempDir(), bins)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// StartForTest runs the daemon of rt for the rest of t with the settings
// of SettingsIn in a temporary directory of t, and stops it when t
// ends, logging the end of its log if t failed.
func StartForTest(t testing.TB, rt Layout, o Options) *Daemon {
	t.Helper()
	d, err := Start(SettingsIn(t.TempDir(), rt), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("the end of containerd's log:\n%s", d.LogTail())
		}
	})
	return d
}

// SettingsIn are the gateway's daemon settings with root, state and
// sockets in dir and the binaries of rt. The sockets have short names: a
// socket's path, with containerd's ".ttrpc" added, must fit in 107 bytes,
// and a test's temporary directory takes up to 83.
func SettingsIn(dir string, rt Layout) initctrd.Settings {
	s := initctrd.Default()
	s.Root, s.State = filepath.Join(dir, "root"), filepath.Join(dir, "state")
	s.Socket, s.DebugSocket = filepath.Join(dir, "c.sock"), filepath.Join(dir, "d.sock")
	s.Binary, s.CNIBinDir = rt.Containerd(), rt.CNIBin()
	return s
}
