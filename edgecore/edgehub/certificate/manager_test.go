package certificate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

func config(t *testing.T, c *testcloud.Cloud, token string) certificate.Config {
	dir := t.TempDir()
	return certificate.Config{
		NodeName: "edge-1", HTTPServer: c.HTTPServer(), Token: token,
		CAFile:   filepath.Join(dir, "ca", "rootCA.crt"),
		CertFile: filepath.Join(dir, "certs", "server.crt"),
		KeyFile:  filepath.Join(dir, "certs", "server.key"),
		Timeout:  5 * time.Second,
	}
}

func TestBootstrapWithToken(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	tok, err := c.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(t, c, tok)
	m := certificate.NewManager(cfg)
	used, err := m.Ensure(context.Background())
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if !used {
		t.Fatal("token not reported as used")
	}
	leaf := m.Leaf()
	if leaf.Subject.CommonName != "system:node:edge-1" {
		t.Fatalf("CN = %q", leaf.Subject.CommonName)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	for _, f := range []string{cfg.CAFile, cfg.CertFile, cfg.KeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	keyPEM, _ := os.ReadFile(cfg.KeyFile)
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Fatalf("key file is not an EC PRIVATE KEY PEM")
	}
	// A second start reuses the stored certificate without the token.
	cfg.Token = ""
	used, err = certificate.NewManager(cfg).Ensure(context.Background())
	if err != nil || used {
		t.Fatalf("second Ensure used=%v err=%v, want stored certificate", used, err)
	}
	c.Inspect(func(v *testcloud.View) {
		if v.CertsIssued() != 1 {
			t.Errorf("cloud issued %d certificates, want 1", v.CertsIssued())
		}
	})
}

func TestBootstrapRefusals(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	good, _ := c.Token(time.Hour)
	expired, _ := c.Token(-time.Hour)
	wrongHash := strings.Repeat("ab", 32) + good[64:]
	tests := []struct {
		name, token, want string
	}{
		{"wrong CA hash", wrongHash, "CA hash mismatch"},
		{"expired token", expired, "token is expired"},
		{"garbage", "not-a-token", "want <ca-hash>.<jwt>"},
		{"short hash", "abcd." + good[65:], "CA hash has 4 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, c, tt.token)
			_, err := certificate.NewManager(cfg).Ensure(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if _, statErr := os.Stat(cfg.CertFile); !errors.Is(statErr, os.ErrNotExist) {
				t.Fatalf("a certificate was written despite the refusal")
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestStoredCertificateChecks(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	other := testcloud.ForTest(t, testcloud.Options{})
	now := time.Now()
	tests := []struct {
		name  string
		cloud *testcloud.Cloud
		node  string
		from  time.Time
		to    time.Time
		want  string
	}{
		{"expired", c, "edge-1", now.Add(-48 * time.Hour), now.Add(-time.Hour), "expired at"},
		{"not yet valid", c, "edge-1", now.Add(time.Hour), now.Add(48 * time.Hour), "not valid until"},
		{"other node", c, "edge-2", now.Add(-time.Hour), now.Add(time.Hour), `CN is "system:node:edge-2"`},
		{"other CA", other, "edge-1", now.Add(-time.Hour), now.Add(time.Hour), "does not chain to the stored CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, c, "")
			certPEM, keyPEM, err := tt.cloud.IssueClientCert(tt.node, tt.from, tt.to)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, cfg.CAFile, c.CAPEM())
			writeFile(t, cfg.CertFile, certPEM)
			writeFile(t, cfg.KeyFile, keyPEM)
			_, err = certificate.NewManager(cfg).Ensure(context.Background())
			if !errors.Is(err, certificate.ErrNeedToken) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrNeedToken naming %q", err, tt.want)
			}
			// With a token the same node recovers by bootstrapping.
			cfg.Token, _ = c.Token(time.Hour)
			if used, err := certificate.NewManager(cfg).Ensure(context.Background()); err != nil || !used {
				t.Fatalf("bootstrap after %s: used=%v err=%v", tt.name, used, err)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	tok, _ := c.Token(time.Hour)
	cfg := config(t, c, tok)
	m := certificate.NewManager(cfg)
	if _, err := m.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := m.Leaf()
	if err := m.Rotate(context.Background()); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	after := m.Leaf()
	if after.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Fatal("rotation kept the same certificate")
	}
	select {
	case <-m.Rotated():
	default:
		t.Fatal("rotation not signalled")
	}
	onDisk, err := certificate.LoadKeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil || onDisk.Leaf.SerialNumber.Cmp(after.SerialNumber) != 0 {
		t.Fatalf("stored certificate is not the rotated one (err %v)", err)
	}
}

func TestRotationDeadline(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{NotBefore: nb, NotAfter: nb.Add(100 * time.Hour)}
	for _, tt := range []struct {
		jitter float64
		want   time.Duration
	}{{0, 70 * time.Hour}, {0.5, 80 * time.Hour}, {0.999999, 90 * time.Hour}} {
		got := certificate.RotationDeadline(leaf, tt.jitter).Sub(nb)
		if d := got - tt.want; d < -time.Second || d > time.Second {
			t.Errorf("jitter %v: deadline at +%v, want +%v", tt.jitter, got, tt.want)
		}
	}
}
