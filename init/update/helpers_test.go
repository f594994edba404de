package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/slotstate"
)

const (
	testBoard = "qemu-arm64"
	testBuild = 100
	slotSize  = 4 << 20
)

// key is a deterministic ed25519 key.
func key(seed byte) bundle.PrivateKey {
	var s [ed25519.SeedSize]byte
	s[0] = seed
	priv := ed25519.NewKeyFromSeed(s[:])
	return bundle.PrivateKey{ID: bundle.KeyIDOf(priv.Public().(ed25519.PublicKey)), Key: priv}
}

var (
	signKey   = key(1) // signs bundles; the gateway trusts it
	clientKey = key(2) // the operator's; the gateway admits it
	otherKey  = key(3) // known to nobody
)

func slotImage(n int, seed byte) []byte {
	var k [32]byte
	k[0] = seed
	b := make([]byte, n)
	mrand.NewChaCha8(k).Read(b)
	return b
}

// makeBundle writes a bundle of img with p (board and build defaulted).
func makeBundle(t testing.TB, img []byte, p bundle.Params, k bundle.PrivateKey) []byte {
	t.Helper()
	if p.Board == "" {
		p.Board = testBoard
	}
	if p.Version == "" {
		p.Version = "v2"
	}
	if p.Build == 0 {
		p.Build = testBuild + 1
	}
	var b bytes.Buffer
	if _, err := bundle.Write(&b, bytes.NewReader(img), p, k, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// rebooter records the reboots the service asks for.
type rebooter struct {
	mu sync.Mutex
	n  int
}

func (r *rebooter) reboot() error {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	return nil
}

func (r *rebooter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// gateway is a service over file-backed slots and a file-backed slot
// state, serving real TLS on loopback.
type gateway struct {
	srv      *Server
	addr     string
	dir      string
	slots    map[slotstate.Slot]string
	disk     *os.File
	store    *slotstate.Store
	reboots  *rebooter
	runningA []byte // slot a's content as made
	config   Config
	cancel   context.CancelFunc
	done     chan error
}

type gatewayOpt func(*Config)

func newGateway(t *testing.T, opts ...gatewayOpt) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{dir: dir, slots: map[slotstate.Slot]string{}, reboots: &rebooter{}}
	for s, seed := range map[slotstate.Slot]byte{slotstate.A: 0xA, slotstate.B: 0xB} {
		p := filepath.Join(dir, "slot-"+string(s))
		content := bytes.Repeat([]byte{seed}, slotSize)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		g.slots[s] = p
		if s == slotstate.A {
			g.runningA = content
		}
	}
	var err error
	if g.disk, err = os.Create(filepath.Join(dir, "disk")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.disk.Close() })
	if err := g.disk.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	if err := slotstate.WriteInitial(g.disk); err != nil {
		t.Fatal(err)
	}
	g.store = slotstate.NewStore(g.disk)
	c := Config{
		Info:    buildinfo.Info{Board: testBoard, Version: "v1", Build: testBuild, Disk: "vda"},
		Running: slotstate.A, Devices: g.slots, State: g.store,
		Keys:     bundle.NewKeyRing(signKey.Public()),
		Clients:  bundle.NewKeyRing(clientKey.Public()),
		StateDir: filepath.Join(dir, "state"),
		Reboot:   g.reboots.reboot, RebootDelay: 10 * time.Millisecond, Poll: 50 * time.Millisecond,
	}
	for _, o := range opts {
		o(&c)
	}
	g.config = c
	g.start(t, "127.0.0.1:0")
	t.Cleanup(g.stop)
	return g
}

// start runs the service on addr.
func (g *gateway) start(t *testing.T, addr string) {
	t.Helper()
	var err error
	if g.srv, err = New(g.config); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	g.addr = l.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan error, 1)
	go func() { g.done <- g.srv.Serve(ctx, l) }()
}

// reboot stands for a reboot: the service stops, the slot state becomes
// st (what the bootloader and init wrote), and the service starts again
// on the same address, running slot running.
func (g *gateway) reboot(t *testing.T, st slotstate.State, running slotstate.Slot) {
	t.Helper()
	g.stop()
	for _, lba := range slotstate.Copies {
		if _, err := g.disk.WriteAt(st.Marshal(), lba*slotstate.SectorSize); err != nil {
			t.Fatal(err)
		}
	}
	g.config.Running = running
	g.start(t, g.addr)
}

func (g *gateway) stop() {
	if g.cancel != nil {
		g.cancel()
		<-g.done
		g.cancel = nil
	}
}

// client is a client with the operator key, pinned to the gateway.
func (g *gateway) client(t *testing.T) *Client {
	t.Helper()
	c, err := NewClient(g.addr, ClientOptions{Key: clientKey, Fingerprint: g.srv.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (g *gateway) state(t *testing.T) slotstate.State {
	t.Helper()
	st, err := g.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (g *gateway) content(t *testing.T, s slotstate.Slot) []byte {
	t.Helper()
	b, err := os.ReadFile(g.slots[s])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRunningUntouched: slot a's bytes as made, slot a committed.
func (g *gateway) checkRunningUntouched(t *testing.T) {
	t.Helper()
	if !bytes.Equal(g.content(t, slotstate.A), g.runningA) {
		t.Error("the running slot a was written to")
	}
	if st := g.state(t); st.Active != slotstate.A {
		t.Errorf("slot state: %v, want slot a committed", st)
	}
}

// eventually retries f until it returns nil or 10 s pass.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
