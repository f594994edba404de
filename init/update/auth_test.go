package update

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
)

// TestClientAuthentication: the service admits only a client whose
// certificate carries a key of its clients file; others fail in the TLS
// handshake and reach no handler.
func TestClientAuthentication(t *testing.T) {
	g := newGateway(t)
	if _, err := g.client(t).Status(context.Background()); err != nil {
		t.Fatalf("known key: %v", err)
	}

	stranger, err := NewClient(g.addr, ClientOptions{Key: otherKey, Fingerprint: g.srv.Fingerprint()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = stranger.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), "tls: ") {
		t.Errorf("unknown key: %v, want a TLS alert", err)
	}

	// No certificate at all.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
	resp, err := noCert.Get("https://" + g.addr + "/v1/status")
	if err == nil {
		resp.Body.Close()
		t.Errorf("no client certificate: %s", resp.Status)
	} else if !strings.Contains(err.Error(), "tls: ") {
		t.Errorf("no client certificate: %v, want a TLS alert", err)
	}
}

// TestClientsFileRequired: a service without operator keys does not
// start.
func TestClientsFileRequired(t *testing.T) {
	if _, err := New(Config{Clients: bundle.KeyRing{}}); err == nil || !strings.Contains(err.Error(), "no client keys") {
		t.Errorf("New without clients: %v", err)
	}
	p := filepath.Join(t.TempDir(), "clients.pem")
	if _, err := ReadClients(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("missing clients file: %v", err)
	}
	priv, err := clientKey.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadClients(p); err == nil || !strings.Contains(err.Error(), "PRIVATE KEY") {
		t.Errorf("a private key as clients file: %v", err)
	}
}

// TestServerCertificateKept: the service makes its key pair once and
// reuses it across restarts; its fingerprint is the certificate's.
func TestServerCertificateKept(t *testing.T) {
	dir := t.TempDir()
	a, err := serverCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := serverCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(a.Certificate[0]) != Fingerprint(b.Certificate[0]) {
		t.Error("a restart made a new certificate")
	}
	st, err := os.Stat(filepath.Join(dir, serverKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v", st, err)
	}
	// A lost certificate (a cut between the two writes) makes a new pair.
	if err := os.Remove(filepath.Join(dir, serverCertFile)); err != nil {
		t.Fatal(err)
	}
	c, err := serverCert(dir)
	if err != nil || Fingerprint(c.Certificate[0]) == Fingerprint(a.Certificate[0]) {
		t.Errorf("after losing the certificate: %v", err)
	}
}
