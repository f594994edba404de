package testcloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Options tune the cloud's timers; zero values take cloudcore's defaults.
type Options struct {
	ResendInterval   time.Duration // resend an unacked message after this (cloudcore: 5 s)
	KeepaliveTimeout time.Duration // drop a session without keepalive for this long (30 s)
	CertTTL          time.Duration // edgeCertSigningDuration (365 days)
	// HTTPAddr and WSAddr choose listen addresses; default 127.0.0.1:0.
	HTTPAddr, WSAddr string
	// ClockAhead sets the cloud's clock this far ahead of the host's
	// (negative: behind), for tests of a gateway whose clock is wrong:
	// certificates, tokens and Date headers follow it.
	ClockAhead time.Duration
	// Kube is the Kubernetes API server the cloud applies edge requests
	// to and takes pods from, as cloudcore's edgecontroller. Without one,
	// every edgecontroller request is answered 503 ServiceUnavailable.
	Kube kubernetes.Interface
}

func (o *Options) defaults() {
	if o.ResendInterval <= 0 {
		o.ResendInterval = 5 * time.Second
	}
	if o.KeepaliveTimeout <= 0 {
		o.KeepaliveTimeout = 30 * time.Second
	}
	if o.CertTTL <= 0 {
		o.CertTTL = 365 * 24 * time.Hour
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.WSAddr == "" {
		o.WSAddr = "127.0.0.1:0"
	}
}

// Cloud is one running test cloudcore.
type Cloud struct {
	opts       Options
	ca         *authority
	serverCert tls.Certificate

	httpSrv, wsSrv   *http.Server
	httpAddr, wsAddr string

	stop     chan struct{} // closed by Close: ends the API server watches
	stopOnce sync.Once

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every state change
	up          bool
	sessions    map[string]*session
	queues      map[string]*nodeQueue // per node, survives disconnects like cloudcore's
	upstream    []Upstream
	downstream  []Downstream
	acks        map[string]int    // cloud msg_id → acks received
	synced      map[string]string // resource → acked resourceVersion (ObjectSync)
	connects    map[string]int
	pings       map[string]int // websocket pings answered, per node
	certsIssued int
	apiWrites   int // writes made to the API server for edge requests
	// eventRefusals are the edges' event writes the API server refused.
	eventRefusals []EventRefusal

	tracked     map[string]bool            // nodes whose pods are watched
	location    map[string]map[string]bool // "<type>/<ns>/<name>" → nodes using it
	configWatch bool
}

// Downstream is one message the cloud sent to a node.
type Downstream struct {
	Node string
	Msg  *model.Message
	At   time.Time
}

// Upstream is one frame received from an edge, decoded, with its raw bytes.
type Upstream struct {
	Node string
	Msg  *model.Message
	Raw  []byte
	At   time.Time
}

// Start creates the CA and serves both ports.
func Start(opts Options) (*Cloud, error) {
	opts.defaults()
	ca, err := newAuthority(func() time.Time { return time.Now().Add(opts.ClockAhead) })
	if err != nil {
		return nil, err
	}
	sc, err := ca.serverCert()
	if err != nil {
		return nil, err
	}
	c := &Cloud{
		opts: opts, ca: ca, serverCert: sc,
		changed:  make(chan struct{}),
		stop:     make(chan struct{}),
		sessions: map[string]*session{}, queues: map[string]*nodeQueue{},
		acks: map[string]int{}, synced: map[string]string{}, connects: map[string]int{}, pings: map[string]int{},
		tracked: map[string]bool{}, location: map[string]map[string]bool{},
		httpAddr: opts.HTTPAddr, wsAddr: opts.WSAddr,
	}
	if err := c.Up(); err != nil {
		return nil, err
	}
	return c, nil
}

// Up (re)opens the listeners on the same addresses.
func (c *Cloud) Up() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.up {
		return nil
	}
	httpLn, err := tls.Listen("tcp", c.httpAddr, &tls.Config{
		Certificates: []tls.Certificate{c.serverCert},
		ClientAuth:   tls.RequestClientCert,
		Time:         c.now,
	})
	if err != nil {
		return fmt.Errorf("cloud https listen: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.cert)
	wsLn, err := tls.Listen("tcp", c.wsAddr, &tls.Config{
		Certificates: []tls.Certificate{c.serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		Time:         c.now,
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256},
	})
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("cloud websocket listen: %w", err)
	}
	c.httpAddr, c.wsAddr = httpLn.Addr().String(), wsLn.Addr().String()
	c.httpSrv = &http.Server{Handler: c.certHandler(), ReadHeaderTimeout: 10 * time.Second}
	c.wsSrv = &http.Server{Handler: c.wsHandler(), ReadHeaderTimeout: 10 * time.Second}
	go c.httpSrv.Serve(httpLn)
	go c.wsSrv.Serve(wsLn)
	c.up = true
	c.notifyLocked()
	return nil
}

// Down closes the listeners and every session, as if cloudcore stopped.
// Queued downstream messages stay and are resent after Up.
func (c *Cloud) Down() {
	c.mu.Lock()
	if !c.up {
		c.mu.Unlock()
		return
	}
	c.up = false
	httpSrv, wsSrv := c.httpSrv, c.wsSrv
	sessions := make([]*session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	httpSrv.Close()
	wsSrv.Close()
	for _, s := range sessions {
		s.close(errors.New("cloud down"))
	}
}

// Close stops the cloud for good.
func (c *Cloud) Close() {
	c.Down()
	c.stopOnce.Do(func() { close(c.stop) })
}

// now is the cloud's clock (see Options.ClockAhead).
func (c *Cloud) now() time.Time { return c.ca.now() }

// HTTPServer is the value for modules.edgeHub.httpServer.
func (c *Cloud) HTTPServer() string { return "https://" + c.httpAddr }

// WSServer is the value for modules.edgeHub.websocket.server.
func (c *Cloud) WSServer() string { return c.wsAddr }

// Token returns a join token valid for ttl (negative for an expired one).
func (c *Cloud) Token(ttl time.Duration) (string, error) { return c.ca.token(ttl) }

// CAHash is the hex SHA-256 of the CA's DER bytes.
func (c *Cloud) CAHash() string {
	t, _ := c.ca.token(time.Hour)
	return t[:64]
}

// countWrite records one API server write made for an edge request.
func (c *Cloud) countWrite() {
	c.mu.Lock()
	c.apiWrites++
	c.notifyLocked()
	c.mu.Unlock()
}

// notifyLocked wakes everyone waiting in Wait. Callers hold c.mu.
func (c *Cloud) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Wait blocks until cond (called with the cloud locked) holds or ctx ends.
func (c *Cloud) Wait(ctx context.Context, what string, cond func(v *View) bool) error {
	for {
		c.mu.Lock()
		ok := cond(&View{c: c})
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-ch:
		}
	}
}

// Inspect runs f with the cloud locked.
func (c *Cloud) Inspect(f func(v *View)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&View{c: c})
}

// View is read access to the cloud's records while it is locked.
type View struct{ c *Cloud }

// Connected reports whether node has a live session.
func (v *View) Connected(node string) bool { _, ok := v.c.sessions[node]; return ok }

// Connects counts sessions node has opened.
func (v *View) Connects(node string) int { return v.c.connects[node] }

// Pings counts the websocket pings node sent, all answered.
func (v *View) Pings(node string) int { return v.c.pings[node] }

// Acks counts acks for a downstream msg_id.
func (v *View) Acks(id string) int { return v.c.acks[id] }

// Synced is the last acked resourceVersion for resource (ObjectSync).
func (v *View) Synced(resource string) string { return v.c.synced[resource] }

// Pending counts downstream messages for node still waiting for an ack.
func (v *View) Pending(node string) int {
	q := v.c.queues[node]
	if q == nil {
		return 0
	}
	return len(q.pending)
}

// Upstream returns every frame received so far.
func (v *View) Upstream() []Upstream { return v.c.upstream }

// Downstream returns every message sent to the edges so far.
func (v *View) Downstream() []Downstream { return v.c.downstream }

// APIWrites counts the writes made to the API server for edge requests.
func (v *View) APIWrites() int { return v.c.apiWrites }

// CertsIssued counts signed certificates.
func (v *View) CertsIssued() int { return v.c.certsIssued }
