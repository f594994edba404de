package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/update"
)

// fakeGateway runs the update service over file-backed slots and slot
// state on loopback. Its reboot stands for the gateway's: the service
// stops, the slot state becomes what the bootloader and init (or the
// fallback) leave, and the service starts again on the same address.
type fakeGateway struct {
	t *testing.T
	// addr and fp are the service's address and certificate fingerprint,
	// the same across its reboots.
	addr, fp string
	disk     *os.File
	config   update.Config
	// commit: the trial slot commits after the reboot; otherwise it
	// fails and the bootloader falls back.
	commit bool

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

func newFakeGateway(t *testing.T, signing, operator bundle.PublicKey, commit bool) *fakeGateway {
	t.Helper()
	dir := t.TempDir()
	devices := map[slotstate.Slot]string{}
	for _, s := range []slotstate.Slot{slotstate.A, slotstate.B} {
		devices[s] = filepath.Join(dir, "slot-"+string(s))
		if err := os.WriteFile(devices[s], make([]byte, 2<<20), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := os.Create(filepath.Join(dir, "disk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { disk.Close() })
	if err := disk.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	if err := slotstate.WriteInitial(disk); err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{t: t, disk: disk, commit: commit}
	g.config = update.Config{
		Info:    buildinfo.Info{Board: "qemu-arm64", Version: "v1", Build: 100, Disk: "vda"},
		Running: slotstate.A, Devices: devices, State: slotstate.NewStore(disk),
		Keys: bundle.NewKeyRing(signing), Clients: bundle.NewKeyRing(operator),
		StateDir: filepath.Join(dir, "state"), RebootDelay: 10 * time.Millisecond,
		Reboot: func() error { go g.reboot(); return nil },
	}
	g.start("127.0.0.1:0")
	t.Cleanup(g.stop)
	return g
}

func (g *fakeGateway) start(addr string) {
	srv, err := update.New(g.config)
	if err != nil {
		g.t.Error(err)
		return
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		g.t.Error(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.mu.Lock()
	g.cancel, g.done = cancel, make(chan error, 1)
	if g.addr == "" {
		g.addr, g.fp = l.Addr().String(), srv.Fingerprint()
	}
	done := g.done
	g.mu.Unlock()
	go func() { done <- srv.Serve(ctx, l) }()
}

func (g *fakeGateway) stop() {
	g.mu.Lock()
	cancel, done := g.cancel, g.done
	g.cancel = nil
	g.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (g *fakeGateway) reboot() {
	g.stop()
	st, err := g.config.State.Load()
	if err != nil {
		g.t.Error(err)
		return
	}
	_, next, _ := st.Boot() // the try counted
	running := next.TrialSlot
	if g.commit {
		next, _, err = next.Commit(running)
		g.config.Info.Version, g.config.Info.Build = "v2", 101
	} else {
		running, next, _ = next.Boot() // no try left: back to a
	}
	if err != nil {
		g.t.Error(err)
		return
	}
	for _, lba := range slotstate.Copies {
		if _, err := g.disk.WriteAt(next.Marshal(), lba*slotstate.SectorSize); err != nil {
			g.t.Error(err)
			return
		}
	}
	g.config.Running = running
	g.start(g.addr)
}

// otaKeys makes an operator and a signing key with the binary, and a
// bundle signed with the signing key (board, build as given).
func otaKeys(t *testing.T, bin string) (dir string, operator, signing bundle.PrivateKey) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"operator", "release"} {
		if out, err := run(t, bin, "ota", "keygen", "-o", filepath.Join(dir, name)); err != nil {
			t.Fatalf("keygen: %v\n%s", err, out)
		}
	}
	read := func(name string) bundle.PrivateKey {
		raw, err := os.ReadFile(filepath.Join(dir, name+".key"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := bundle.ParsePrivateKey(raw)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return dir, read("operator"), read("release")
}

func writeTestBundle(t *testing.T, path string, p bundle.Params, key bundle.PrivateKey) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := bundle.Write(&b, bytes.NewReader(bytes.Repeat([]byte("slot image "), 50_000)), p, key, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var goodParams = bundle.Params{Board: "qemu-arm64", Version: "v2", Build: 101}

// TestOTAPushCommitted: push with progress, the wait across the reboot,
// the committed line; the gateway recorded in the known gateways file;
// status as text and JSON.
func TestOTAPushCommitted(t *testing.T) {
	bin := edgegateBin(t)
	dir, operator, signing := otaKeys(t, bin)
	g := newFakeGateway(t, signing.Public(), operator.Public(), true)
	bundleFile := filepath.Join(dir, "gw.bundle")
	writeTestBundle(t, bundleFile, goodParams, signing)
	known := filepath.Join(dir, "known_gateways")
	opKey := filepath.Join(dir, "operator.key")

	out, err := run(t, bin, "ota", "push", "--target", g.addr, "--key", opKey, "--known-gateways", known, "--wait", "1m", bundleFile)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	for _, want := range []string{"sent 100%", "slot b holds qemu-arm64 v2 (build 101", "committed: slot b runs version v2 (build 101)"} {
		if !strings.Contains(out, want) {
			t.Errorf("push said:\n%s\nwant %q", out, want)
		}
	}
	if b, err := os.ReadFile(known); err != nil || !strings.HasPrefix(string(b), g.addr+" ") {
		t.Errorf("known gateways: %q, %v", b, err)
	}

	out, err = run(t, bin, "ota", "status", "--target", g.addr, "--key", opKey, "--known-gateways", known)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"qemu-arm64 version v2 (build 101), running slot b", "slot b committed; last: slot b committed after its trial", "last update:", "written and put on trial"} {
		if !strings.Contains(out, want) {
			t.Errorf("status said:\n%s\nwant %q", out, want)
		}
	}
	cmdOut, err := stdout(t, bin, "ota", "status", "--target", g.addr, "--key", opKey, "--known-gateways", known, "--json")
	if err != nil {
		t.Fatalf("status --json: %v", err)
	}
	var st update.Status
	if err := json.Unmarshal(cmdOut, &st); err != nil || st.Running != "b" || st.Active != "b" || st.Last != "committed" {
		t.Errorf("status --json: %+v, %v\n%s", st, err, cmdOut)
	}
}

// stdout runs the binary and returns its stdout alone.
func stdout(t *testing.T, bin string, args ...string) ([]byte, error) {
	t.Helper()
	return exec.Command(bin, args...).Output()
}

// TestOTAPushFellBack: the gateway falls back; push says so and fails.
func TestOTAPushFellBack(t *testing.T) {
	bin := edgegateBin(t)
	dir, operator, signing := otaKeys(t, bin)
	g := newFakeGateway(t, signing.Public(), operator.Public(), false)
	bundleFile := filepath.Join(dir, "gw.bundle")
	writeTestBundle(t, bundleFile, goodParams, signing)
	fp := g.fp
	out, err := run(t, bin, "ota", "push", "--target", g.addr, "--key", filepath.Join(dir, "operator.key"), "--fingerprint", fp, bundleFile)
	if err == nil || !strings.Contains(out, "slot b failed its trial: the gateway fell back to slot a") {
		t.Fatalf("push: %v\n%s", err, out)
	}
}

// TestOTAPushRefusedAndPull: a refusal is printed with its reason and
// fails the command; a pull with --wait 0 returns once the slot is on
// trial.
func TestOTAPushRefusedAndPull(t *testing.T) {
	bin := edgegateBin(t)
	dir, operator, signing := otaKeys(t, bin)
	g := newFakeGateway(t, signing.Public(), operator.Public(), true)
	fp := g.fp
	opKey := filepath.Join(dir, "operator.key")
	other := filepath.Join(dir, "armv7.bundle")
	writeTestBundle(t, other, bundle.Params{Board: "qemu-armv7", Version: "v2", Build: 101}, signing)
	out, err := run(t, bin, "ota", "push", "--target", g.addr, "--key", opKey, "--fingerprint", fp, other)
	if err == nil || !strings.Contains(out, "gateway refused (board)") || !strings.Contains(out, "qemu-armv7") {
		t.Fatalf("push of another board's bundle: %v\n%s", err, out)
	}

	data := writeTestBundle(t, filepath.Join(dir, "gw.bundle"), goodParams, signing)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(data) }))
	defer src.Close()
	out, err = run(t, bin, "ota", "pull", "--target", g.addr, "--key", opKey, "--fingerprint", fp, "--wait", "0", "--no-reboot", src.URL+"/gw.bundle")
	if err != nil || !strings.Contains(out, "slot b holds qemu-arm64 v2 (build 101") || !strings.Contains(out, "tries it at its next boot") {
		t.Fatalf("pull: %v\n%s", err, out)
	}
}

// TestOTAGatewayBadInvocations: each mistake is named before anything is
// sent.
func TestOTAGatewayBadInvocations(t *testing.T) {
	bin := edgegateBin(t)
	dir, _, _ := otaKeys(t, bin)
	key := filepath.Join(dir, "operator.key")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"ota", "push", "--key", key, "x.bundle"}, "--target is required"},
		{[]string{"ota", "push", "--target", "gw", "x.bundle"}, "--key is required"},
		{[]string{"ota", "push", "--target", "gw", "--key", key}, "usage: edgegate ota push"},
		{[]string{"ota", "push", "--target", "gw", "--key", filepath.Join(dir, "operator.pub"), "x.bundle"}, "no PRIVATE KEY PEM block"},
		{[]string{"ota", "push", "--target", "gw", "--key", key, "--fingerprint", "zz", "x.bundle"}, "64 hex digits"},
		{[]string{"ota", "push", "--target", "gw", "--key", key, "--fingerprint", strings.Repeat("0", 64), filepath.Join(dir, "none.bundle")}, "none.bundle"},
		{[]string{"ota", "pull", "--target", "gw", "--key", key}, "usage: edgegate ota pull"},
		{[]string{"ota", "status", "--target", "gw:0", "--key", key}, "HOST or HOST:PORT"},
		{[]string{"ota", "status", "--target", "127.0.0.1:1", "--key", key, "--fingerprint", strings.Repeat("0", 64)}, "refused"},
	} {
		out, err := run(t, bin, tt.args...)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("edgegate %v: %v\n%s\nwant it to mention %q", tt.args, err, out, tt.want)
		}
	}
}

// TestProgressBar: plain lines every 10% off a terminal; a bar redrawn
// in place on one, with the rate.
func TestProgressBar(t *testing.T) {
	now := time.Unix(0, 0)
	clock := func() time.Time { return now }
	var plain bytes.Buffer
	p := newProgressBar(&plain, false, clock)
	for sent := int64(0); sent <= 100<<20; sent += 1 << 20 {
		now = now.Add(100 * time.Millisecond)
		p.update(sent, 100<<20)
	}
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[10], "sent 100%  100.0/100.0 MiB  9.9 MiB/s") {
		t.Errorf("plain progress:\n%s", plain.String())
	}
	var term bytes.Buffer
	now = time.Unix(0, 0)
	p = newProgressBar(&term, true, clock)
	now = now.Add(time.Second)
	p.update(50<<20, 100<<20)
	now = now.Add(10 * time.Millisecond)
	p.update(60<<20, 100<<20) // too soon to redraw
	now = now.Add(time.Second)
	p.update(100<<20, 100<<20)
	want := "\r[===============               ]  50%  50.0/100.0 MiB  50.0 MiB/s" +
		"\r[==============================] 100%  100.0/100.0 MiB  49.8 MiB/s\n"
	if term.String() != want {
		t.Errorf("terminal progress %q, want %q", term.String(), want)
	}
}
