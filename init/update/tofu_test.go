package update

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrustOnFirstUse: the first connection records the gateway's
// fingerprint; later ones accept it; a changed one is refused naming the
// file and line; a pin that does not match is refused.
func TestTrustOnFirstUse(t *testing.T) {
	g := newGateway(t)
	known := filepath.Join(t.TempDir(), "cfg", "edgegate", "known_gateways")
	c, err := NewClient(g.addr, ClientOptions{Key: clientKey, KnownGateways: known})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatalf("first use: %v", err)
	}
	want := g.addr + " " + g.srv.Fingerprint() + "\n"
	if b, err := os.ReadFile(known); err != nil || string(b) != want {
		t.Fatalf("known gateways after first use: %q, %v; want %q", b, err, want)
	}
	c2, _ := NewClient(g.addr, ClientOptions{Key: clientKey, KnownGateways: known})
	if _, err := c2.Status(context.Background()); err != nil {
		t.Fatalf("second use: %v", err)
	}
	if b, _ := os.ReadFile(known); string(b) != want {
		t.Errorf("second use changed the file: %q", b)
	}

	// Another certificate at that address: line 3 records the old one.
	other := strings.Repeat("ab", 32)
	content := fmt.Sprintf("# gateways\n10.0.0.9:8443 %s\n%s %s\n", other, g.addr, other)
	if err := os.WriteFile(known, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c3, _ := NewClient(g.addr, ClientOptions{Key: clientKey, KnownGateways: known})
	_, err = c3.Status(context.Background())
	if err == nil || !strings.Contains(err.Error(), known+":3") || !strings.Contains(err.Error(), g.srv.Fingerprint()) {
		t.Errorf("changed fingerprint: %v, want an error naming %s:3", err, known)
	}
	if b, _ := os.ReadFile(known); string(b) != content {
		t.Errorf("the refusal changed the file: %q", b)
	}

	// A malformed line is named.
	if err := os.WriteFile(known, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c4, _ := NewClient(g.addr, ClientOptions{Key: clientKey, KnownGateways: known})
	if _, err := c4.Status(context.Background()); err == nil || !strings.Contains(err.Error(), known+":1") {
		t.Errorf("malformed file: %v", err)
	}

	// A pin that does not match.
	pinned, err := NewClient(g.addr, ClientOptions{Key: clientKey, Fingerprint: strings.Repeat("0", 64)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pinned.Status(context.Background()); err == nil || !strings.Contains(err.Error(), "not the pinned") {
		t.Errorf("pin mismatch: %v", err)
	}
}

// TestNewClientRefuses: what NewClient cannot work with is named.
func TestNewClientRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		target string
		o      ClientOptions
		want   string
	}{
		"no key":          {"gw", ClientOptions{Fingerprint: strings.Repeat("0", 64)}, "no client key"},
		"no trust":        {"gw", ClientOptions{Key: clientKey}, "no way to trust"},
		"bad fingerprint": {"gw", ClientOptions{Key: clientKey, Fingerprint: "xyz"}, "64 hex"},
		"url as target":   {"https://gw", ClientOptions{Key: clientKey, Fingerprint: strings.Repeat("0", 64)}, "HOST or HOST:PORT"},
		"bad port":        {"gw:99999", ClientOptions{Key: clientKey, Fingerprint: strings.Repeat("0", 64)}, "HOST or HOST:PORT"},
	} {
		if _, err := NewClient(c.target, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	for in, want := range map[string]string{"gw": "gw:8443", "gw:9000": "gw:9000", "10.0.0.1": "10.0.0.1:8443", "::1": "[::1]:8443", "[::1]:9": "[::1]:9"} {
		if got, err := targetAddr(in); err != nil || got != want {
			t.Errorf("targetAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
