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
	"os"
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
}

// ErrNeedToken means the node has no usable certificate and no token to get one.
var ErrNeedToken = errors.New("no usable client certificate and no join token: run the join again with a fresh token from `keadm gettoken`")

// Manager holds the node's current client certificate and renews it.
type Manager struct {
	cfg     Config
	rotated chan struct{}

	mu   sync.RWMutex
	pair tls.Certificate
	ca   *x509.CertPool
}

// NewManager returns a manager; call Ensure before using TLSConfig.
func NewManager(cfg Config) *Manager {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Manager{cfg: cfg, rotated: make(chan struct{}, 1)}
}

// Ensure loads the stored certificate or, when it is missing, for another
// node, expired or not from our CA, bootstraps a new one with the token.
// It reports whether the token was used, so the caller can clear it.
func (m *Manager) Ensure(ctx context.Context) (usedToken bool, err error) {
	loadErr := m.load()
	if loadErr == nil {
		return false, nil
	}
	if m.cfg.Token == "" {
		return false, fmt.Errorf("%w (%v)", ErrNeedToken, loadErr)
	}
	klog.Infof("certificate: %v; bootstrapping with the join token", loadErr)
	if err := m.bootstrap(ctx); err != nil {
		return false, err
	}
	return true, m.load()
}

// load accepts the stored files only if they belong to this node, chain to
// the stored CA and are inside their validity window.
func (m *Manager) load() error {
	ca, err := LoadCA(m.cfg.CAFile)
	if err != nil {
		return err
	}
	pair, err := LoadKeyPair(m.cfg.CertFile, m.cfg.KeyFile)
	if err != nil {
		return err
	}
	if err := m.check(pair.Leaf, ca, time.Now()); err != nil {
		return err
	}
	m.mu.Lock()
	m.pair, m.ca = pair, ca
	m.mu.Unlock()
	return nil
}

func (m *Manager) check(leaf *x509.Certificate, ca *x509.CertPool, now time.Time) error {
	if want := CommonName(m.cfg.NodeName); leaf.Subject.CommonName != want {
		return fmt.Errorf("client certificate CN is %q, want %q", leaf.Subject.CommonName, want)
	}
	if now.After(leaf.NotAfter) {
		return fmt.Errorf("client certificate for %s expired at %s", m.cfg.NodeName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(leaf.NotBefore) {
		return fmt.Errorf("client certificate for %s is not valid until %s (is the clock right?)", m.cfg.NodeName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: ca, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now})
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
	der, err := requestCert(ctx, m.cfg.HTTPServer, m.cfg.NodeName, tok.JWT, csr, &tls.Config{RootCAs: pool}, m.cfg.Timeout)
	if err != nil {
		return fmt.Errorf("certificate bootstrap: %w", err)
	}
	if err := m.store(caDER, der, key); err != nil {
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
	if err := m.check(leaf, pool, time.Now()); err != nil {
		return fmt.Errorf("cloud returned an unusable certificate: %w", err)
	}
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		return errors.New("cloud returned a certificate for another key")
	}
	if err := writeCertPEM(m.cfg.CAFile, caDER); err != nil {
		return err
	}
	if err := writeKeyPEM(m.cfg.KeyFile, key); err != nil {
		return err
	}
	return writeCertPEM(m.cfg.CertFile, certDER)
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// ClientTLS returns a TLS config for the websocket: our certificate (looked up
// on each handshake, so rotation takes effect on the next dial) and the cloud
// verified against the CA.
func (m *Manager) ClientTLS() *tls.Config {
	m.mu.RLock()
	ca := m.ca
	m.mu.RUnlock()
	return &tls.Config{
		RootCAs:    ca,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			m.mu.RLock()
			defer m.mu.RUnlock()
			pair := m.pair
			return &pair, nil
		},
	}
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
		wait := time.Until(RotationDeadline(m.Leaf(), rand.Float64()))
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
	der, err := requestCert(ctx, m.cfg.HTTPServer, m.cfg.NodeName, "", csr, m.ClientTLS(), m.cfg.Timeout)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	caPEM, err := os.ReadFile(m.cfg.CAFile)
	if err != nil {
		return fmt.Errorf("rotate: %w", err)
	}
	caDER, err := pemDER(caPEM)
	if err != nil {
		return fmt.Errorf("rotate: CA file %s: %w", m.cfg.CAFile, err)
	}
	if err := m.store(caDER, der, key); err != nil {
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
