package testcloud

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// certHandler serves cloudhub's HTTPS port (10002): /ca.crt, /edge.crt and
// /node/{name}, as in KUBEEDGE.md §4. Replies carry the cloud's time in
// Date, as net/http does for cloudcore.
func (c *Cloud) certHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ca.crt", func(w http.ResponseWriter, r *http.Request) {
		w.Write(c.ca.der)
	})
	mux.HandleFunc("GET /edge.crt", c.serveEdgeCert)
	mux.HandleFunc("GET /node/{name}", func(w http.ResponseWriter, r *http.Request) {
		if c.opts.Kube != nil {
			if _, err := c.opts.Kube.CoreV1().Nodes().Get(r.Context(), r.PathValue("name"), metav1.GetOptions{}); err == nil {
				w.Write([]byte("Node founded"))
				return
			}
		}
		http.Error(w, "node not found", http.StatusNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", c.now().UTC().Format(http.TimeFormat))
		mux.ServeHTTP(w, r)
	})
}

// serveEdgeCert signs the DER CSR in the body. Authentication is the bearer
// JWT on bootstrap, or the current client certificate on rotation.
func (c *Cloud) serveEdgeCert(w http.ResponseWriter, r *http.Request) {
	node := r.Header.Get("NodeName")
	if auth := r.Header.Get("Authorization"); auth != "" {
		tok, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			http.Error(w, "token validation failure, err: no bearer token", http.StatusUnauthorized)
			return
		}
		if err := c.ca.verifyToken(tok); err != nil {
			http.Error(w, fmt.Sprintf("token validation failure, err: %v", err), http.StatusUnauthorized)
			return
		}
	} else if err := c.verifyPeer(r, node); err != nil {
		http.Error(w, fmt.Sprintf("failed to verify the certificate for edgenode: %s, %v", node, err), http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		http.Error(w, "read CSR: "+err.Error(), http.StatusBadRequest)
		return
	}
	csr, err := x509.ParseCertificateRequest(body)
	if err == nil {
		err = csr.CheckSignature()
	}
	if err != nil {
		http.Error(w, "fail to ParseCertificateRequest of edgenode: "+node+", "+err.Error(), http.StatusBadRequest)
		return
	}
	now := c.now() // valid from now, as cloudcore issues them: no slack for a slow edge clock
	der, err := c.ca.sign(csr.Subject, csr.PublicKey, now, now.Add(c.opts.CertTTL), x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		http.Error(w, "sign: "+err.Error(), http.StatusInternalServerError)
		return
	}
	c.mu.Lock()
	c.certsIssued++
	c.mu.Unlock()
	w.Write(der)
}

func (c *Cloud) verifyPeer(r *http.Request, node string) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return fmt.Errorf("no client certificate")
	}
	leaf := r.TLS.PeerCertificates[0]
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: c.now()}); err != nil {
		return err
	}
	if leaf.Subject.CommonName != "system:node:"+node {
		return fmt.Errorf("certificate CN %q does not match NodeName %q", leaf.Subject.CommonName, node)
	}
	return nil
}
