package certificate

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/klog/v2"
)

// Config names the files and the cloud endpoint, as in EdgeCore's
// modules.edgeHub section.
type Config struct {
	NodeName   string
	HTTPServer string // https://<cloud>:10002
	Token      string // join token; empty once the node has certificates
	CAFile     string // tlsCaFile
	CertFile   string // tlsCertFile
	KeyFile    string // tlsPrivateKeyFile
	Rotate     bool   // rotateCertificates
	Timeout    time.Duration
	// SetClock sets the system clock; the manager calls it when the
	// cloud's time is ahead of the clock (see clock.go). Nil leaves the
	// system clock alone: certificates are then checked against the
	// cloud's time.
	SetClock func(time.Time) error
	// Now reads the system clock; nil means time.Now.
	Now func() time.Time
}

// ErrNeedToken means the node has no usable certificate and no token to get one.
var ErrNeedToken = errors.New("no usable client certificate and no join token: run the join again with a fresh token from `keadm gettoken`")

// Manager holds the node's current client certificate and renews it.
type Manager struct {
	cfg     Config
	files   *store
	rotated chan struct{}

	mu    sync.RWMutex
	pair  tls.Certificate
	ca    *x509.CertPool
	caPEM []byte
	// offset is how far the cloud's clock is ahead of the system clock,
	// when the system clock could not be set to it.
	offset time.Duration
}

// NewManager returns a manager; call Ensure before using TLSConfig.
func NewManager(cfg Config) *Manager {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Manager{
		cfg:     cfg,
		files:   &store{caFile: cfg.CAFile, certFile: cfg.CertFile, keyFile: cfg.KeyFile},
		rotated: make(chan struct{}, 1),
	}
}

// Ensure loads the stored certificate or, when there is none yet or it is
// unusable (lost, for another node, expired, not from our CA), bootstraps a
// new one with the token. A stored certificate that is unusable is logged
// as such, naming the problem, before the token is used. One that is not
// valid yet by the clock is a clock behind the cloud's, not a lost
// certificate: the clock is corrected from the cloud's time, and while the
// cloud cannot be reached Ensure fails without touching the token. It
// reports whether the token was used, so the caller can erase it.
func (m *Manager) Ensure(ctx context.Context) (usedToken bool, err error) {
	loadErr, err := m.loadCorrectingClock(ctx)
	if err != nil || loadErr == nil {
		return false, err
	}
	return m.join(ctx, loadErr)
}

// loadCorrectingClock loads the stored set (loadErr says why it is not
// usable). A set that is not valid yet by the clock sends for the cloud's
// time first; failing to read it is err, for the caller to retry.
func (m *Manager) loadCorrectingClock(ctx context.Context) (loadErr, err error) {
	loadErr = m.load()
	var behind *clockBehindError
	if !errors.As(loadErr, &behind) {
		if loadErr == nil {
			m.checkClock(ctx)
		}
		return loadErr, nil
	}
	if err := m.readCloudTime(ctx, m.storedCA()); err != nil {
		return nil, fmt.Errorf("%v: the clock is behind or the certificate is premature, and the cloud's time could not be read to tell: %w", loadErr, err)
	}
	// Still not valid by the cloud's time: issued for the future, unusable.
	return m.load(), nil
}

// join bootstraps a certificate with the token, after saying why: a first
// join, or a stored certificate that is unusable (loadErr).
func (m *Manager) join(ctx context.Context, loadErr error) (usedToken bool, err error) {
	first := errors.Is(loadErr, errNoCertificate)
	if m.cfg.Token == "" {
		if first {
			return false, fmt.Errorf("%w (%v)", ErrNeedToken, loadErr)
		}
		return false, fmt.Errorf("%w (the stored client certificate is unusable: %v)", ErrNeedToken, loadErr)
	}
	if first {
		klog.Infof("certificate: %v; joining with the join token", loadErr)
	} else {
		klog.Warningf("certificate: the stored client certificate is unusable: %v; joining again with the join token", loadErr)
	}
	if err := m.bootstrap(ctx); err != nil {
		return false, err
	}
	return true, m.load()
}

// load accepts the stored set only if it belongs to this node, chains to
// the stored CA and is inside its validity window.
func (m *Manager) load() error {
	s, err := m.files.current()
	if err != nil {
		return err
	}
	pair, caCert, err := s.parse()
	if err != nil {
		return err
	}
	ca := x509.NewCertPool()
	ca.AddCert(caCert)
	if err := m.check(pair.Leaf, ca, m.now()); err != nil {
		return err
	}
	m.mu.Lock()
	m.pair, m.ca, m.caPEM = pair, ca, s.ca
	m.mu.Unlock()
	return nil
}

// storedCA is the CA of the stored set, or nil when it cannot be read.
func (m *Manager) storedCA() *x509.CertPool {
	s, err := m.files.current()
	if err != nil {
		return nil
	}
	_, ca, err := s.parse()
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// checkClock reads the cloud's time once the certificate is loaded, so a
// clock behind the cloud's is corrected before the link is dialled (the
// cloud's own certificate may be newer than the clock). It is bounded
// and best effort: a cloud out of reach is the link's business.
func (m *Manager) checkClock(ctx context.Context) {
	m.mu.RLock()
	ca := m.ca
	m.mu.RUnlock()
	ctx, cancel := context.WithTimeout(ctx, min(m.cfg.Timeout, 10*time.Second))
	defer cancel()
	if err := m.readCloudTime(ctx, ca); err != nil {
		klog.V(2).Infof("certificate: reading the cloud's time: %v", err)
	}
}

func (m *Manager) check(leaf *x509.Certificate, ca *x509.CertPool, now time.Time) error {
	if want := CommonName(m.cfg.NodeName); leaf.Subject.CommonName != want {
		return fmt.Errorf("client certificate CN is %q, want %q", leaf.Subject.CommonName, want)
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("client certificate for %s expired at %s", m.cfg.NodeName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Add(clockTolerance).Before(leaf.NotBefore) {
		return &clockBehindError{node: m.cfg.NodeName, notBefore: leaf.NotBefore, now: now}
	}
	// Within the tolerance a certificate issued a moment ago by a cloud
	// whose clock is a little ahead is fine.
	at := now
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: at})
	if err != nil {
		return fmt.Errorf("client certificate does not chain to the stored CA %s: %w", m.cfg.CAFile, err)
	}
	return nil
}

func (m *Manager) bootstrap(ctx context.Context) error {
	tok, err := ParseToken(m.cfg.Token)
	if err != nil {
		return fmt.Errorf("certificate bootstrap: %w", err)
	}
	caDER, err := fetchCA(ctx, m.cfg.HTTPServer, tok, m.cfg.Timeout)
	if err != nil {
		return fmt.Errorf("certificate bootstrap: %w", err)
	}
	caCert, _ := x509.ParseCertificate(caDER) // parsed in fetchCA
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	key, csr, err := newCSR(m.cfg.NodeName)
	if err != nil {
		return fmt.Errorf("certificate bootstrap: %w", err)
	}
	r, err := m.requestCert(ctx, pool, tok.JWT, csr)
	if err != nil {
		return fmt.Errorf("certificate bootstrap: %w", err)
	}
	m.observeCloudTime(r.date, m.cfg.HTTPServer)
	if err := m.store(caDER, r.body, key); err != nil {
		return fmt.Errorf("certificate bootstrap: %w", err)
	}
	klog.Infof("certificate: obtained %s from %s", CommonName(m.cfg.NodeName), m.cfg.HTTPServer)
	return nil
}

// store checks the issued certificate before it replaces anything on disk.
func (m *Manager) store(caDER, certDER []byte, key *ecdsa.PrivateKey) error {
	leaf, err := x509.ParseCertificate(certDER)
	if err != nil {
		return fmt.Errorf("cloud returned an unparsable certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("parse CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	if err := m.check(leaf, pool, m.now()); err != nil {
		return fmt.Errorf("cloud returned an unusable certificate: %w", err)
	}
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		return errors.New("cloud returned a certificate for another key")
	}
	s, err := newSet(caDER, certDER, key)
	if err != nil {
		return err
	}
	return m.files.save(s)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// ClientTLS returns a TLS config for the websocket: our certificate (looked up
// on each handshake, so rotation takes effect on the next dial) and the cloud
// verified against the CA, at the clock as corrected from the cloud's time.
func (m *Manager) ClientTLS() *tls.Config {
	m.mu.RLock()
	ca := m.ca
	m.mu.RUnlock()
	return &tls.Config{
		RootCAs:              ca,
		MinVersion:           tls.VersionTLS12,
		Time:                 m.now,
		GetClientCertificate: m.clientCertificate,
	}
}

func (m *Manager) clientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	pair := m.pair
	return &pair, nil
}

// Leaf returns the current client certificate.
func (m *Manager) Leaf() *x509.Certificate {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pair.Leaf
}

// Rotated signals after each successful rotation; the link reconnects on it.
func (m *Manager) Rotated() <-chan struct{} { return m.rotated }

// RotationDeadline is NotBefore plus 70–90 % of the lifetime, with jitter in
// [0,1) choosing the point, as KubeEdge's certmanager does.
func RotationDeadline(leaf *x509.Certificate, jitter float64) time.Time {
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	return leaf.NotBefore.Add(time.Duration(float64(life) * (0.7 + 0.2*jitter)))
}

// Run rotates the certificate before it expires until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	if !m.cfg.Rotate {
		return
	}
	for {
		wait := RotationDeadline(m.Leaf(), rand.Float64()).Sub(m.now())
		klog.V(2).Infof("certificate: next rotation in %s", wait.Round(time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if !m.rotateWithBackoff(ctx) {
			return
		}
	}
}

// rotateWithBackoff retries 2 s doubling for 5 steps, then every 32 s.
func (m *Manager) rotateWithBackoff(ctx context.Context) bool {
	delay := 2 * time.Second
	for step := 0; ; step++ {
		err := m.Rotate(ctx)
		if err == nil {
			return true
		}
		klog.Errorf("certificate: rotation failed (retry in %s): %v", delay, err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		if step < 4 {
			delay *= 2
		} else {
			delay = 32 * time.Second
		}
	}
}

// Rotate asks the cloud for a new certificate, authenticating with the
// current one (no token).
func (m *Manager) Rotate(ctx context.Context) error {
	key, csr, err := newCSR(m.cfg.NodeName)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	m.mu.RLock()
	caPEM, ca := m.caPEM, m.ca
	m.mu.RUnlock()
	r, err := m.requestCert(ctx, ca, "", csr)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	m.observeCloudTime(r.date, m.cfg.HTTPServer)
	caDER, err := pemDER(caPEM)
	if err != nil {
		return fmt.Errorf("rotate: CA in use: %w", err)
	}
	if err := m.store(caDER, r.body, key); err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	if err := m.load(); err != nil {
		return fmt.Errorf("rotate: reload: %w", err)
	}
	klog.Infof("certificate: rotated, new certificate valid until %s", m.Leaf().NotAfter.UTC().Format(time.RFC3339))
	select {
	case m.rotated <- struct{}{}:
	default:
	}
	return nil
}
