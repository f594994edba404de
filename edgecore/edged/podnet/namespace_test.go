package podnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/image/ctrdbuild"
)

// The tests that need root run in a child process of the test binary
// with a network and a mount namespace of its own: the host's network and
// mounts are never touched, and the CNI plugins the child runs inherit
// its namespaces.
const (
	childEnv   = "PODNET_TEST_CHILD"       // set in the child
	pluginsEnv = "PODNET_TEST_CNI_PLUGINS" // the built plugins, for the child
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		if err := isolateChild(); err != nil {
			fmt.Fprintln(os.Stderr, "podnet test child:", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// isolateChild keeps the child's mounts from propagating to the host and
// brings up its loopback (local traffic goes through it).
func isolateChild() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	return nil
}

// plugins are the CNI plugins the image ships, built once from the module
// cache (offline: the cache is the proxy) and kept in the user's cache
// directory for the next run.
var plugins struct {
	once sync.Once
	dir  string
	err  error
}

func buildPlugins() (string, error) {
	plugins.once.Do(func() { plugins.dir, plugins.err = buildPluginsOnce() })
	return plugins.dir, plugins.err
}

func buildPluginsOnce() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "edgegate-podnet-test",
		fmt.Sprintf("cni-%s-%s-%s", ctrdbuild.PluginsVersion, runtime.Version(), runtime.GOARCH))
	names := []string{"bridge", "host-local", "loopback"}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	args := []string{"install", "-trimpath"}
	for _, name := range names {
		args = append(args, ctrdbuild.Plugins[name]+"@"+ctrdbuild.PluginsVersion)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = tmp // outside edgegate's module: pkg@version builds with the plugins' go.mod
	// The module proxy serves the plugins' pinned version (the image's);
	// their own go.sum pins what they depend on.
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=-buildvcs=false", "GOSUMDB=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install the CNI plugins %s: %w\n%s", ctrdbuild.PluginsVersion, err, out)
	}
	// Complete or not there: a half-built directory is never reused.
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) {
		return "", err
	}
	return dir, nil
}

// inNamespaces runs test in a fresh network and mount namespace: the test
// binary runs itself again, for this test only, in a child that has them.
func inNamespaces(t *testing.T, test func(t *testing.T, e *testEnv)) {
	t.Helper()
	if os.Getenv(childEnv) != "" {
		test(t, newTestEnv(t))
		return
	}
	if testing.Short() {
		t.Skip("-short: needs root, network namespaces and the CNI plugins built")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces, mounts and nftables")
	}
	dir, err := buildPlugins()
	if err != nil {
		t.Skipf("cannot build the CNI plugins: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1", pluginsEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	t.Logf("in a child namespace:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatal("the child did not run the test")
	}
}

// testEnv is a network like init's in the test's namespaces.
type testEnv struct {
	cfg     Config
	ipamDir string // host-local's store
	cniLog  string // one line per bridge plugin run: its CNI_COMMAND
	failAdd string // while this file exists, bridge ADDs (and fail)
	hairpin bool   // the bridge plugin's hairpinMode
}

const (
	testBridge  = "edge0"
	testSubnet  = "10.88.0.0/16"
	testGateway = "10.88.0.1"
)

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{ipamDir: filepath.Join(dir, "ipam"), cniLog: filepath.Join(dir, "cni.log"), failAdd: filepath.Join(dir, "fail-add")}
	e.cfg = Config{
		NetNSDir: filepath.Join(dir, "netns"), CNIConfDir: filepath.Join(dir, "conf"),
		CNIBinDirs: []string{filepath.Join(dir, "bin")}, CNICacheDir: filepath.Join(dir, "cache"),
		NetworkName: "edgegate", Table: "edgegate-hostports",
	}
	for _, d := range []string{e.cfg.NetNSDir, e.cfg.CNIConfDir, e.cfg.CNIBinDirs[0]} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A mount of its own, as /run/netns is; detaching it at the end takes
	// any pins a failed test left with it, so the directory can go.
	if err := unix.Mount("tmpfs", e.cfg.NetNSDir, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(e.cfg.NetNSDir, unix.MNT_DETACH) })

	built := os.Getenv(pluginsEnv)
	for _, name := range []string{"host-local", "loopback"} {
		if err := os.Symlink(filepath.Join(built, name), filepath.Join(e.cfg.CNIBinDirs[0], name)); err != nil {
			t.Fatal(err)
		}
	}
	// bridge logs each command, so the tests can count ADDs, and fails an
	// ADD it has done on demand, so they can see it undone.
	wrapper := fmt.Sprintf(`#!/bin/sh
echo "$CNI_COMMAND" >>%[1]s
if [ "$CNI_COMMAND" = ADD ] && [ -e %[2]s ]; then
	%[3]s >/dev/null
	echo '{"cniVersion":"1.0.0","code":999,"msg":"injected failure"}'
	exit 1
fi
exec %[3]s
`, e.cniLog, e.failAdd, filepath.Join(built, "bridge"))
	if err := os.WriteFile(filepath.Join(e.cfg.CNIBinDirs[0], "bridge"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeConfList(t)
	return e
}

// writeConfList writes a list like init's, with loopback, and portmap: it
// is not built, so any run of it fails the test.
func (e *testEnv) writeConfList(t *testing.T) {
	t.Helper()
	conf := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "edgegate",
  "plugins": [
    {"type": "bridge", "bridge": %q, "isGateway": true, "ipMasq": false, "hairpinMode": %t,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": %q}},
    {"type": "loopback"},
    {"type": "portmap", "capabilities": {"portMappings": true}, "backend": "nftables"}
  ]
}`, testBridge, e.hairpin, testSubnet, e.ipamDir)
	if err := os.WriteFile(filepath.Join(e.cfg.CNIConfDir, "edgegate.conflist"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) network(t *testing.T) *Network {
	t.Helper()
	n, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// cniCommands counts the bridge plugin's runs by command.
func (e *testEnv) cniCommands(t *testing.T) map[string]int {
	t.Helper()
	data, err := os.ReadFile(e.cniLog)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, l := range strings.Fields(string(data)) {
		counts[l]++
	}
	return counts
}

// inNetNS runs f on a thread in the namespace at path (the root test
// namespace when path is empty). Sockets f opens stay in that namespace.
func inNetNS(path string, f func() error) error {
	if path == "" {
		return f()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := f()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, err) // the thread stays locked and goes
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// serve accepts connections in the namespace at path on addr and answers
// each with the address it came from.
func serve(t *testing.T, path, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := inNetNS(path, func() (err error) { l, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatalf("listen on %s in %q: %v", addr, path, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	return l
}

// dial connects from the namespace at path to addr and returns what the
// server said: the source address it saw.
func dial(path, addr string) (string, error) {
	var c net.Conn
	if err := inNetNS(path, func() (err error) { c, err = net.DialTimeout("tcp4", addr, 2*time.Second); return err }); err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b, err := io.ReadAll(c)
	return strings.TrimSpace(string(b)), err
}

// addNodeAddress gives the test namespace an address that is not
// loopback, on one end of a veth pair (this kernel may lack dummy links).
func addNodeAddress(t *testing.T, cidr string) {
	t.Helper()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "node0"}, PeerName: "node1"}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(veth, addr); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node0", "node1"} {
		link, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.LinkSetUp(link)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// addClient makes a namespace pinned at path that reaches the test
// namespace over a veth pair: a neighbour on the node's LAN.
func addClient(t *testing.T, path, nodeCIDR, clientCIDR string) {
	t.Helper()
	if err := createNetNS(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeNetNS(path) })
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "lan0"}, PeerName: "lan1", PeerNamespace: netlink.NsFd(ns)}
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	nodeAddr, _ := netlink.ParseAddr(nodeCIDR)
	if err := netlink.AddrAdd(veth, nodeAddr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(veth); err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	peer, err := h.LinkByName("lan1")
	if err != nil {
		t.Fatal(err)
	}
	clientAddr, _ := netlink.ParseAddr(clientCIDR)
	if err := h.AddrAdd(peer, clientAddr); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: nodeAddr.IP}); err != nil {
		t.Fatal(err)
	}
}

// deleteLink removes a link of the current thread's namespace.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return err
	}
	return netlink.LinkDel(link)
}
