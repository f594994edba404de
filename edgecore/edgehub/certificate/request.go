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
	"strings"
	"time"
)

// maxCertBody bounds what we read from the cloud's certificate endpoints.
const maxCertBody = 1 << 20

// CommonName is the subject CN cloudcore issues for a node.
func CommonName(node string) string { return "system:node:" + node }

// fetchCA downloads the cloud CA without verifying TLS (we do not have the
// CA yet) and pins it by the hash carried in the token, as KubeEdge does.
func fetchCA(ctx context.Context, httpServer string, tok Token, timeout time.Duration) ([]byte, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // pinned by hash below
	}}
	defer client.CloseIdleConnections()
	der, err := get(ctx, client, strings.TrimRight(httpServer, "/")+"/ca.crt", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch CA: %w", err)
	}
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

// requestCert sends the CSR to /edge.crt. The cloud route is a GET with a
// body; authentication is either the bearer JWT (bootstrap) or the client
// certificate in tlsCfg (rotation).
func requestCert(ctx context.Context, httpServer, node, jwt string, csr []byte, tlsCfg *tls.Config, timeout time.Duration) ([]byte, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	hdr := http.Header{"NodeName": []string{node}}
	if jwt != "" {
		hdr.Set("Authorization", "Bearer "+jwt)
	}
	der, err := get(ctx, client, strings.TrimRight(httpServer, "/")+"/edge.crt", hdr, csr)
	if err != nil {
		return nil, fmt.Errorf("request certificate: %w", err)
	}
	return der, nil
}

func get(ctx context.Context, client *http.Client, url string, hdr http.Header, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v // keep KubeEdge's exact header spelling
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCertBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(data) > maxCertBody {
		return nil, fmt.Errorf("GET %s: reply larger than %d bytes", url, maxCertBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: cloud refused with %s: %s", url, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}
