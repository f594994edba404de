package certificate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxCertBody bounds what we read from the cloud's certificate endpoints.
const maxCertBody = 1 << 20

// CommonName is the subject CN cloudcore issues for a node.
func CommonName(node string) string { return "system:node:" + node }

// reply is a body from the cloud and the cloud's time it was sent at (the
// Date header; zero when absent or when the reply is not authenticated).
type reply struct {
	body []byte
	date time.Time
}

// fetchCA downloads the cloud CA without verifying TLS (we do not have the
// CA yet) and pins it by the hash carried in the token, as KubeEdge does.
func fetchCA(ctx context.Context, httpServer string, tok Token, timeout time.Duration) ([]byte, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // pinned by hash below
	}}
	defer client.CloseIdleConnections()
	r, err := get(ctx, client, strings.TrimRight(httpServer, "/")+"/ca.crt", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch CA: %w", err)
	}
	der := r.body
	if got := CAHash(der); got != tok.CAHash {
		return nil, fmt.Errorf("fetch CA: CA hash mismatch: token pins %s but %s/ca.crt serves %s; the token belongs to another cloud or is mistyped", tok.CAHash, httpServer, got)
	}
	if _, err := x509.ParseCertificate(der); err != nil {
		return nil, fmt.Errorf("fetch CA: not a DER certificate: %w", err)
	}
	return der, nil
}

// newCSR makes a P-256 key and a DER CSR with the subject KubeEdge uses.
func newCSR(node string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{
		Country:      []string{"CN"},
		Organization: []string{"system:nodes"},
		Locality:     []string{"Hangzhou"},
		Province:     []string{"Zhejiang"},
		CommonName:   CommonName(node),
	}}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return key, csr, nil
}

// cloudClient is an HTTPS client for the cloud's certificate port that
// verifies the cloud against roots (see verifyServer) and, with clientCert
// set, presents the node's certificate.
func (m *Manager) cloudClient(roots *x509.CertPool, clientCert bool) (*http.Client, error) {
	u, err := url.Parse(m.cfg.HTTPServer)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("httpServer %q is not an https://host:port URL", m.cfg.HTTPServer)
	}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Verified by VerifyPeerCertificate instead, which tolerates a
		// clock behind the cloud's.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: verifyServer(roots, u.Hostname(), m.now),
	}
	if clientCert {
		tlsCfg.GetClientCertificate = m.clientCertificate
	}
	return &http.Client{Timeout: m.cfg.Timeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}, nil
}

// requestCert sends the CSR to /edge.crt. The cloud route is a GET with a
// body; authentication is either the bearer JWT (bootstrap) or the client
// certificate (rotation). The cloud is verified against roots.
func (m *Manager) requestCert(ctx context.Context, roots *x509.CertPool, jwt string, csr []byte) (reply, error) {
	client, err := m.cloudClient(roots, jwt == "")
	if err != nil {
		return reply{}, fmt.Errorf("request certificate: %w", err)
	}
	defer client.CloseIdleConnections()
	hdr := http.Header{"NodeName": []string{m.cfg.NodeName}}
	if jwt != "" {
		hdr.Set("Authorization", "Bearer "+jwt)
	}
	r, err := get(ctx, client, strings.TrimRight(m.cfg.HTTPServer, "/")+"/edge.crt", hdr, csr)
	if err != nil {
		return reply{}, fmt.Errorf("request certificate: %w", err)
	}
	return r, nil
}

func get(ctx context.Context, client *http.Client, url string, hdr http.Header, body []byte) (reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	for k, v := range hdr {
		req.Header[k] = v // keep KubeEdge's exact header spelling
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBody+1))
	if err != nil {
		return reply{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(data) > maxCertBody {
		return reply{}, fmt.Errorf("GET %s: reply larger than %d bytes", url, maxCertBody)
	}
	if resp.StatusCode != http.StatusOK {
		return reply{}, fmt.Errorf("GET %s: cloud refused with %s: %s", url, resp.Status, strings.TrimSpace(string(data)))
	}
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	return reply{body: data, date: date}, nil
}
