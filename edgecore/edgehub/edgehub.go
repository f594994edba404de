package edgehub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/edgecore/edgehub/link"
	"github.com/edgegate/edgegate/edgecore/edgehub/outbox"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Bus is what edgehub needs from edgecore's bus.
type Bus interface {
	Receive(ctx context.Context, module string) (model.Message, error)
	Send(module string, msg model.Message) error
	SendToGroup(group string, msg model.Message) error
	SendResp(resp model.Message) bool
	Modules(group string) []string
}

// Stats are edgehub's counters; read them with Load.
type Stats struct {
	Link               link.Stats
	DroppedUnroutable  atomic.Uint64 // cloud messages no module takes
	UnmatchedResponses atomic.Uint64 // replies nobody waited for
	Connects           atomic.Uint64
	QueuedOffline      atomic.Uint64 // messages put in the outbox
	RefusedOffline     atomic.Uint64 // sync requests answered "not connected"
	SilentLinks        atomic.Uint64 // sessions ended by the read deadline (half-open links)
	Confirmed          atomic.Uint64 // messages the cloud confirmed having read (by a pong)
	Unconfirmed        atomic.Uint64 // messages a lost link left unconfirmed, handled as offline
}

// EdgeHub is the "websocket" module.
type EdgeHub struct {
	cfg   Config
	bus   Bus
	certs *certificate.Manager
	box   *outbox.Outbox
	stats Stats

	onTokenUsed func() error
	setClock    func(time.Time) error

	mu      sync.Mutex
	session *session // nil while offline
}

// Option adjusts an EdgeHub.
type Option func(*EdgeHub)

// WithTokenUsed registers f to run after the join token has bought a
// certificate; edgecore clears the token from its config file there.
func WithTokenUsed(f func() error) Option { return func(h *EdgeHub) { h.onTokenUsed = f } }

// WithClockSetter lets the certificate manager set the system clock
// forward to the cloud's time when it is behind (see
// edgehub/certificate); without it the clock is left alone.
func WithClockSetter(f func(time.Time) error) Option { return func(h *EdgeHub) { h.setClock = f } }

// New builds the module. db is edgecore's store; the outbox keeps its
// tables there.
func New(cfg Config, b Bus, db *dbm.DB, opts ...Option) (*EdgeHub, error) {
	cfg.defaults()
	h := &EdgeHub{cfg: cfg, bus: b}
	for _, o := range opts {
		o(h)
	}
	if !cfg.Enable {
		return h, nil
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	box, err := outbox.Open(db, outbox.Limits{Entries: cfg.OutboxSize, Bytes: cfg.OutboxBytes})
	if err != nil {
		return nil, fmt.Errorf("edgehub: %w", err)
	}
	h.box = box
	h.certs = certificate.NewManager(certificate.Config{
		NodeName: cfg.NodeName, HTTPServer: cfg.HTTPServer, Token: cfg.Token,
		CAFile: cfg.TLSCAFile, CertFile: cfg.TLSCertFile, KeyFile: cfg.TLSPrivateKeyFile,
		Rotate: cfg.RotateCertificates, Timeout: cfg.HandshakeTimeout,
		SetClock: h.setClock,
	})
	return h, nil
}

// Name, Group, Enable and RestartPolicy make EdgeHub a core.Module.
func (h *EdgeHub) Name() string  { return model.EdgeHubModuleName }
func (h *EdgeHub) Group() string { return model.HubGroup }
func (h *EdgeHub) Enable() bool  { return h.cfg.Enable }
func (h *EdgeHub) RestartPolicy() *core.RestartPolicy {
	return &core.RestartPolicy{Type: core.RestartOnFailure}
}

// Stats exposes the counters.
func (h *EdgeHub) Stats() *Stats { return &h.stats }

// Queued counts the messages waiting in the persisted outbox, sent or not,
// for the cloud to confirm.
func (h *EdgeHub) Queued() int {
	if h.box == nil {
		return 0
	}
	return h.box.Len()
}

// Connected reports whether a session to the cloud is up.
func (h *EdgeHub) Connected() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.session != nil
}

// Start runs until ctx ends. Being offline is not an error: edgecore keeps
// serving from its store while edgehub keeps trying.
func (h *EdgeHub) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Add(1)
	go func() { defer wg.Done(); h.pumpUpstream(ctx) }()
	if !h.ensureCertificate(ctx) {
		return nil
	}
	wg.Add(1)
	go func() { defer wg.Done(); h.certs.Run(ctx) }()
	h.connectLoop(ctx)
	return nil
}

// ensureCertificate retries until a certificate is in hand or ctx ends. A
// refusal (wrong CA hash, expired token, no token) is logged each time with
// the reason; the node stays offline and autonomous meanwhile.
func (h *EdgeHub) ensureCertificate(ctx context.Context) bool {
	bo := link.Backoff{Min: time.Second, Max: 5 * time.Minute}
	for {
		used, err := h.certs.Ensure(ctx)
		if err == nil {
			if used && h.onTokenUsed != nil {
				if err := h.onTokenUsed(); err != nil {
					klog.Errorf("edgehub: clearing the used join token from the config: %v", err)
				}
			}
			return true
		}
		wait := bo.Next()
		klog.Errorf("edgehub: cannot connect to the cloud without a certificate (retry in %s): %v", wait.Round(time.Second), err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// connectLoop dials, serves a session until it fails, and redials with
// backoff and jitter, from 1 s up to 2×heartbeat (KubeEdge's fixed wait).
func (h *EdgeHub) connectLoop(ctx context.Context) {
	bo := link.Backoff{Min: time.Second, Max: 2 * h.cfg.Heartbeat}
	for ctx.Err() == nil {
		conn, err := link.Dial(ctx, link.Config{
			Server: h.cfg.Server, ProjectID: h.cfg.ProjectID, NodeName: h.cfg.NodeName,
			TLS: h.certs.ClientTLS(), HandshakeTimeout: h.cfg.HandshakeTimeout, WriteTimeout: h.cfg.WriteDeadline,
			ReadTimeout: h.cfg.ReadDeadline, MaxMessage: h.cfg.MaxMessage,
			QPS: h.cfg.MessageQPS, Burst: h.cfg.MessageBurst,
		}, &h.stats.Link)
		if err == nil {
			bo.Reset()
			h.stats.Connects.Add(1)
			err = h.serve(ctx, conn)
		}
		if ctx.Err() != nil {
			return
		}
		wait := bo.Next()
		klog.Warningf("edgehub: cloud link down (reconnect in %s): %v", wait.Round(time.Millisecond), err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// errRotated ends a session so the next dial presents the new certificate.
var errRotated = errors.New("client certificate rotated")
