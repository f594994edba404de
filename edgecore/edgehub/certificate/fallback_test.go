package certificate_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// logBuffer collects klog's output for the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func captureLog(t *testing.T) *logBuffer {
	l := &logBuffer{}
	klog.LogToStderr(false)
	klog.SetOutput(l)
	t.Cleanup(func() {
		klog.SetOutput(os.Stderr)
		klog.LogToStderr(true)
	})
	return l
}

// TestLostCertificateIsReportedBeforeTheToken: a node whose stored
// certificate is lost or unusable says so, naming the problem, as a
// warning, and only then joins again with the token; a node that never had
// one says it is joining for the first time. Without a token the error
// names the problem too.
func TestLostCertificateIsReportedBeforeTheToken(t *testing.T) {
	c := testcloud.ForTest(t, testcloud.Options{})
	tok, _ := c.Token(time.Hour)
	now := time.Now()
	tests := []struct {
		name    string
		prepare func(t *testing.T, cfg certificate.Config)
		want    string // in the log line before the token is used
		warning bool
	}{
		{"first join", func(*testing.T, certificate.Config) {}, "no client certificate stored yet", false},
		{"key lost", func(t *testing.T, cfg certificate.Config) {
			certPEM, _, _ := c.IssueClientCert("edge-1", now.Add(-time.Hour), now.Add(time.Hour))
			writeFile(t, cfg.CAFile, c.CAPEM())
			writeFile(t, cfg.CertFile, certPEM)
		}, "read client key", true},
		{"key of another certificate", func(t *testing.T, cfg certificate.Config) {
			certPEM, _, _ := c.IssueClientCert("edge-1", now.Add(-time.Hour), now.Add(time.Hour))
			_, otherKey, _ := c.IssueClientCert("edge-1", now.Add(-time.Hour), now.Add(time.Hour))
			writeFile(t, cfg.CAFile, c.CAPEM())
			writeFile(t, cfg.CertFile, certPEM)
			writeFile(t, cfg.KeyFile, otherKey)
		}, "private key does not match public key", true},
		{"expired", func(t *testing.T, cfg certificate.Config) {
			certPEM, keyPEM, _ := c.IssueClientCert("edge-1", now.Add(-48*time.Hour), now.Add(-time.Hour))
			writeFile(t, cfg.CAFile, c.CAPEM())
			writeFile(t, cfg.CertFile, certPEM)
			writeFile(t, cfg.KeyFile, keyPEM)
		}, "expired at", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, c, "")
			tt.prepare(t, cfg)
			_, err := certificate.NewManager(cfg).Ensure(context.Background())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("without a token: %v, want an error naming %q", err, tt.want)
			}

			log := captureLog(t)
			cfg.Token = tok
			used, err := certificate.NewManager(cfg).Ensure(context.Background())
			if err != nil || !used {
				t.Fatalf("with the token: used=%v err=%v", used, err)
			}
			line := lineWith(log.String(), tt.want)
			if line == "" {
				t.Fatalf("no log line names %q:\n%s", tt.want, log)
			}
			if tt.warning && !strings.HasPrefix(line, "W") || !tt.warning && !strings.HasPrefix(line, "I") {
				t.Errorf("severity of %q: want warning=%v", line, tt.warning)
			}
			if tt.warning && !strings.Contains(line, "the stored client certificate is unusable") {
				t.Errorf("log line %q does not say the stored certificate is unusable", line)
			}
		})
	}
}

func lineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
