package update

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/slotwrite"
)

// SlotState is the slot state record as the service reads and changes
// it; *slotstate.Store is the real one.
type SlotState interface {
	Load() (slotstate.State, error)
	slotwrite.State
}

// Config is what the service runs with.
type Config struct {
	// Info is the running slot's build record: the policy's board and
	// build, and what Status reports.
	Info    buildinfo.Info
	Running slotstate.Slot
	// Devices are the slots' partitions (block devices; files in tests).
	Devices map[slotstate.Slot]string
	State   SlotState
	// Keys are the signing keys the running slot trusts (ota-keys.pem);
	// Clients the operator keys allowed to connect (ota-clients.pem).
	Keys, Clients bundle.KeyRing
	// StateDir keeps the TLS key pair, status.json and last.json.
	StateDir string
	// Reboot asks init for an orderly reboot into the trial slot (SIGTERM
	// to PID 1), RebootDelay after the reply; nil never reboots.
	Reboot      func() error
	RebootDelay time.Duration
	// Poll is how often the slot state is read again for status.json, to
	// see init's commit and the bootloader's fallback.
	Poll time.Duration
	// PullClient fetches pulled bundles; nil is a client with the system
	// roots and the timeouts of pullClient.
	PullClient func(fingerprint string) *http.Client
}

// Server is the update service.
type Server struct {
	c    Config
	cert tls.Certificate
	fp   string

	// busy is held for the whole of an update: one at a time.
	busy sync.Mutex

	mu         sync.Mutex
	progress   *Progress
	last       *Outcome
	lastStatus []byte // status.json as last written
}

// New loads or makes the service's TLS key pair and reads the last
// outcome. It does not listen yet (Serve).
func New(c Config) (*Server, error) {
	if c.RebootDelay == 0 {
		c.RebootDelay = time.Second
	}
	if c.Poll == 0 {
		c.Poll = 5 * time.Second
	}
	if c.PullClient == nil {
		c.PullClient = pullClient
	}
	if len(c.Clients.IDs()) == 0 {
		return nil, fmt.Errorf("update: no client keys: nobody could connect")
	}
	if c.Devices[c.Running] == "" || c.Devices[c.Running.Other()] == "" {
		return nil, fmt.Errorf("update: no partition known for slot %s or %s", c.Running, c.Running.Other())
	}
	cert, err := serverCert(c.StateDir)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	last, err := readLast(c.StateDir)
	if err != nil {
		// A damaged record of the last update must not stop updates.
		klog.Warningf("update: last update record unreadable, ignored: %v", err)
	}
	return &Server{c: c, cert: cert, fp: Fingerprint(cert.Certificate[0]), last: last}, nil
}

// Fingerprint is the sha256 of the service's certificate (hex).
func (s *Server) Fingerprint() string { return s.fp }

// TLSConfig is the server side of the mutual TLS: the service's
// certificate, and only clients with a key of Config.Clients.
func (s *Server) TLSConfig() *tls.Config {
	base := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{s.cert},
		ClientAuth:   tls.RequireAnyClientCert,
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// Per connection, so a refusal is logged with the peer's address.
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c := base.Clone()
			c.VerifyPeerCertificate = checkClient(s.c.Clients, hello.Conn.RemoteAddr().String())
			return c, nil
		},
	}
}

// Handler serves the API (without TLS: Serve adds it).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/update", s.handlePush)
	mux.HandleFunc("POST /v1/update/pull", s.handlePull)
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	return mux
}

// idleTimeout bounds a silent connection: a slow link still sends
// something every minute.
const idleTimeout = 60 * time.Second

// Serve serves the API over TLS on l until ctx ends, keeping status.json
// current meanwhile.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	klog.Infof("update: listening on %s, certificate sha256 %s", listenName(l.Addr()), s.fp)
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       idleTimeout,
		ErrorLog:          serverLog(),
	}
	s.WriteStatus()
	go s.watch(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tls.NewListener(l, s.TLSConfig())) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// watch reads the slot state every Poll and rewrites status.json when it
// changed: init's commit and the bootloader's fallback show there within
// seconds.
func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.c.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.WriteStatus()
		}
	}
}

// StatusPath is where status.json is.
func (s *Server) StatusPath() string { return filepath.Join(s.c.StateDir, StatusFile) }

// WriteStatus rewrites status.json when what it says changed.
func (s *Server) WriteStatus() {
	st := s.Status()
	st.Update = nil
	b, err := marshalStatus(st)
	if err != nil {
		klog.Errorf("update: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(b) == string(s.lastStatus) {
		return
	}
	if err := writeRaw(s.StatusPath(), b); err != nil {
		klog.Errorf("update: %v", err)
		return
	}
	s.lastStatus = b
}

// Status is the gateway's update status now.
func (s *Server) Status() Status {
	i := s.c.Info
	st := Status{Board: i.Board, Version: i.Version, Build: i.Build, Running: string(s.c.Running), Fingerprint: s.fp}
	rec, err := s.c.State.Load()
	if err != nil {
		klog.Warningf("update: %v", err)
	}
	if err == nil || errors.Is(err, slotstate.ErrUnreadable) {
		st.Active, st.Trial, st.TriesLeft = string(rec.Active), string(rec.TrialSlot), int(rec.TriesLeft)
		st.Last, st.LastSlot, st.Seq = rec.Last.String(), string(rec.LastSlot), uint64(rec.Seq)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.progress != nil {
		p := *s.progress
		st.Update = &p
	}
	if s.last != nil {
		o := *s.last
		st.LastUpdate = &o
	}
	return st
}

// listenName is the listening address as configured: ":8443" for every
// address, not "[::]:8443".
func listenName(a net.Addr) string {
	if t, ok := a.(*net.TCPAddr); ok && t.IP.IsUnspecified() {
		return fmt.Sprintf(":%d", t.Port)
	}
	return a.String()
}
