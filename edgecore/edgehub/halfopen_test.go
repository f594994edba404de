package edgehub_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/edgehub"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// cutProxy forwards TCP from the edge to the cloud until Cut. The
// connections open at a cut then forward nothing more in either direction,
// ever, and stay open: no FIN, no RST, as when the path between the two
// dies. Connections made during a cut wait until Heal, as a dial does
// while its packets are dropped.
type cutProxy struct {
	ln     net.Listener
	target string
	end    chan struct{} // closed at cleanup: frees every parked goroutine

	mu     sync.Mutex
	cut    bool
	healed chan struct{}   // closed while the path is up
	frozen []chan struct{} // one per forwarded connection, closed at a cut
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	healed := make(chan struct{})
	close(healed)
	p := &cutProxy{ln: ln, target: target, end: make(chan struct{}), healed: healed}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

// Cut kills the path: open connections freeze, new ones wait.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.healed = make(chan struct{})
	for _, c := range p.frozen {
		close(c)
	}
	p.frozen = nil
}

// Heal lets new connections through; the frozen ones stay frozen.
func (p *cutProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	close(p.healed)
}

func (p *cutProxy) close() {
	close(p.end)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *cutProxy) accept() {
	for {
		edge, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(edge)
	}
}

func (p *cutProxy) forward(edge net.Conn) {
	p.mu.Lock()
	p.conns = append(p.conns, edge)
	healed := p.healed
	p.mu.Unlock()
	select {
	case <-healed:
	case <-p.end:
		return
	}
	cloud, err := net.Dial("tcp", p.target)
	if err != nil {
		edge.Close()
		return
	}
	frozen := make(chan struct{})
	p.mu.Lock()
	p.conns = append(p.conns, cloud)
	if p.cut {
		close(frozen)
	} else {
		p.frozen = append(p.frozen, frozen)
	}
	p.mu.Unlock()
	go p.pipe(cloud, edge, frozen)
	go p.pipe(edge, cloud, frozen)
}

// pipe copies src to dst while the path is alive; at a cut it drops what
// it read and parks, reading and closing nothing more.
func (p *cutProxy) pipe(dst, src net.Conn, frozen <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-frozen:
			<-p.end
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// statusSender sends status patches to edgehub as edgecore's modules do:
// a plain send, or SendSync as metamanager forwards edged's patches.
type statusSender struct {
	t       *testing.T
	r       *rig
	newest  map[string]string // resource → body of the newest patch sent
	replies chan model.Message
	wg      sync.WaitGroup
}

func (s *statusSender) patch(resource, body string, sync bool) {
	s.newest[resource] = body
	msg := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, resource, model.PatchOperation).FillBody(body)
	if !sync {
		if err := s.r.bus.Send(model.EdgeHubModuleName, *msg); err != nil {
			s.t.Fatal(err)
		}
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		resp, err := s.r.bus.SendSync(model.EdgeHubModuleName, *msg, time.Minute)
		if err != nil {
			s.t.Errorf("SendSync %s: %v", resource, err)
			return
		}
		s.replies <- resp
	}()
}

// delivered reports whether the cloud holds the newest patch of every
// resource as the last one it received for it.
func (s *statusSender) delivered(v *testcloud.View) bool {
	last := map[string]string{}
	for _, u := range v.Upstream() {
		if u.Msg.Router.Operation == model.PatchOperation {
			last[u.Msg.Router.Resource], _ = u.Msg.ContentString()
		}
	}
	for res, body := range s.newest {
		if last[res] != body {
			return false
		}
	}
	return true
}

// missing lists the newest patches the cloud never received.
func (s *statusSender) missing(v *testcloud.View) []string {
	var out []string
	for res, body := range s.newest {
		found := false
		for _, u := range v.Upstream() {
			if c, _ := u.Msg.ContentString(); u.Msg.Router.Resource == res && c == body {
				found = true
			}
		}
		if !found {
			out = append(out, res+" "+body)
		}
	}
	sort.Strings(out)
	return out
}

// A link that dies without a FIN is noticed within websocket.readDeadline,
// and every status update sent before, during and after the cut reaches
// the cloud once the path is back, the newest last.
func TestHalfOpenLinkDetectedAndNothingLost(t *testing.T) {
	const readDeadline = 2 * time.Second
	const slack = 3 * time.Second // session teardown on a loaded test machine
	var proxy *cutProxy
	r := newRig(t, func(cloud *testcloud.Cloud, cfg *edgehub.Config) {
		proxy = newCutProxy(t, cloud.WSServer())
		cfg.Server = proxy.Addr()
		cfg.ReadDeadline = readDeadline
	})
	r.waitConnected(t)

	// A healthy link over which the cloud sends nothing but pongs stays
	// up for several read deadlines.
	r.wait(t, "pings", func(v *testcloud.View) bool { return v.Pings(node) >= 6 })
	r.cloud.Inspect(func(v *testcloud.View) {
		if v.Connects(node) != 1 || r.hub.Stats().SilentLinks.Load() != 0 {
			t.Fatalf("a healthy link was dropped: %d connects, %d silent links", v.Connects(node), r.hub.Stats().SilentLinks.Load())
		}
	})

	s := &statusSender{t: t, r: r, newest: map[string]string{}, replies: make(chan model.Message, 16)}
	nodePatch := "default/nodepatch/" + node
	s.patch(nodePatch, `{"status":{"v":1}}`, true)
	for i := range 3 {
		s.patch(fmt.Sprintf("default/podpatch/before-%d", i), `{"status":{"phase":"Running"}}`, i%2 == 0)
	}
	r.wait(t, "status before the cut", s.delivered)
	for range 3 {
		<-s.replies // the cloud answered the sync ones
	}
	// and confirmed having read them all, so they are not sent again.
	deadline := time.Now().Add(10 * time.Second)
	for r.hub.Stats().Confirmed.Load() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the cloud confirmed %d of 4 messages", r.hub.Stats().Confirmed.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}

	proxy.Cut()
	cutAt := time.Now()
	s.patch(nodePatch, `{"status":{"v":2}}`, true)
	for i := range 4 {
		s.patch(fmt.Sprintf("default/podpatch/during-%d", i), `{"status":{"phase":"Failed"}}`, i%2 == 0)
	}
	s.patch(nodePatch, `{"status":{"v":3}}`, false)

	for r.hub.Connected() {
		if time.Since(cutAt) > readDeadline+slack {
			t.Fatalf("the dead link was not noticed within %s (readDeadline %s)", readDeadline+slack, readDeadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("dead link noticed %s after the cut (readDeadline %s)", time.Since(cutAt).Round(time.Millisecond), readDeadline)
	if n := r.hub.Stats().SilentLinks.Load(); n != 1 {
		t.Fatalf("SilentLinks = %d, want 1", n)
	}
	// Senders waiting on the dead link are told at once, not left to time out.
	for range 3 {
		select {
		case resp := <-s.replies:
			text, _ := resp.ContentString()
			if resp.Router.Operation != model.ResponseErrorOperation || !strings.Contains(text, "queued for delivery after reconnect") {
				t.Fatalf("a sender waiting on the dead link got %s %q", resp.Router.Operation, text)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a sender waiting on the dead link was not answered")
		}
	}

	for i := range 2 {
		s.patch(fmt.Sprintf("default/podpatch/after-%d", i), `{"status":{"phase":"Succeeded"}}`, false)
	}
	s.patch(nodePatch, `{"status":{"v":4}}`, false)
	r.cloud.Inspect(func(v *testcloud.View) {
		if s.delivered(v) {
			t.Fatal("the status sent during the cut reached the cloud through a dead link")
		}
	})

	proxy.Heal()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.cloud.Wait(ctx, "every status update after reconnect", s.delivered); err != nil {
		r.cloud.Inspect(func(v *testcloud.View) { t.Fatalf("%v; the cloud lacks %q", err, s.missing(v)) })
	}
	r.cloud.Inspect(func(v *testcloud.View) {
		if v.Connects(node) != 2 {
			t.Errorf("connects = %d, want 2", v.Connects(node))
		}
	})
	r.cloud.Inspect(func(v *testcloud.View) {
		for _, u := range v.Upstream() {
			if strings.Contains(u.Msg.Router.Resource, "/before-") && u.At.After(cutAt) {
				t.Errorf("%s, confirmed before the cut, was sent again", u.Msg.Router.Resource)
			}
		}
	})
	s.wg.Wait()
	deadline = time.Now().Add(10 * time.Second)
	for r.hub.Queued() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages stay queued after the cloud confirmed them", r.hub.Queued())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
