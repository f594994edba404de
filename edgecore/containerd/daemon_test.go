package containerd

import (
	"testing"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
	initctrd "github.com/edgegate/edgegate/init/containerd"
)

// startDaemon runs edgegate's containerd on this machine for the rest of
// t (see hostctrd: its root and sockets in a temporary directory, the
// shim and runc found by PATH as on a gateway) and returns edged's
// settings for it. Its pods live in the test's namespaces; nothing here
// needs a network beyond loopback. It skips t where that cannot be:
// -short, not root, no overlay filesystem, no C toolchain for runc.
func startDaemon(t *testing.T) Settings {
	t.Helper()
	hostctrd.Require(t)
	if !hostctrd.HasOverlay() {
		t.Skip("no overlay filesystem for containerd's snapshotter")
	}
	d := hostctrd.StartForTest(t, hostctrd.RuntimeForTest(t), hostctrd.Options{})
	return settingsFor(t, d.Settings)
}

// settingsFor are edged's settings for the daemon of d.
func settingsFor(t *testing.T, d initctrd.Settings) Settings {
	s := DefaultSettings()
	s.Endpoint = "unix://" + d.Socket
	s.Root = d.Root
	s.FIFODir = t.TempDir()
	s.HostsDir = t.TempDir()
	return s
}
