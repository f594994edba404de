package update

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PullRequest is the body of POST /v1/update/pull.
type PullRequest struct {
	URL string `json:"url"`
	// Fingerprint, when set, pins the source's certificate (hex sha256 of
	// its DER) instead of checking it against the system's roots.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// handlePull downloads a bundle from the URL it is given and installs it.
// The download does not depend on the requesting connection: a client
// that goes away does not stop an update the gateway fetches itself.
func (s *Server) handlePull(w http.ResponseWriter, r *http.Request) {
	var req PullRequest
	if err := readPullRequest(r, &req); err != nil {
		replyError(w, err)
		return
	}
	release, err := s.begin()
	if err != nil {
		replyError(w, err)
		return
	}
	defer release()
	res, err := s.pull(context.WithoutCancel(r.Context()), req)
	s.reply(w, r, res, err)
}

func readPullRequest(r *http.Request, req *PullRequest) error {
	bad := func(format string, a ...any) error {
		return &Error{Status: http.StatusBadRequest, Reason: ReasonRequest, Message: fmt.Sprintf(format, a...)}
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return bad("pull request: %v", err)
	}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return bad("pull request: url %q is not an http or https URL", req.URL)
	}
	if req.Fingerprint != "" && !isFingerprint(req.Fingerprint) {
		return bad("pull request: fingerprint %q is not 64 lowercase hex digits (sha256)", req.Fingerprint)
	}
	if req.Fingerprint != "" && u.Scheme != "https" {
		return bad("pull request: a fingerprint pins an https source, and %s is http", req.URL)
	}
	return nil
}

// pull fetches the bundle and installs it; a source that does not deliver
// is recorded as the update's outcome like any refusal.
func (s *Server) pull(ctx context.Context, req PullRequest) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	body, err := s.fetch(ctx, req)
	if err != nil {
		e := refusal(err)
		s.recordOutcome(Outcome{Time: time.Now().UTC(), Slot: string(s.c.Running.Other()), Error: e.Message, Reason: e.Reason})
		return Result{}, err
	}
	defer body.Close()
	stall := time.AfterFunc(idleTimeout, cancel)
	defer stall.Stop()
	return s.install(ctx, &stallReader{r: body, t: stall})
}

func (s *Server) fetch(ctx context.Context, req PullRequest) (io.ReadCloser, error) {
	download := func(format string, a ...any) error {
		return &Error{Status: http.StatusBadGateway, Reason: ReasonDownload, Message: fmt.Sprintf(format, a...)}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, req.URL, nil)
	if err != nil {
		return nil, download("pull %s: %v", req.URL, err)
	}
	resp, err := s.c.PullClient(req.Fingerprint).Do(hr)
	if err != nil {
		return nil, download("pull: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, download("pull %s: the source answered %s", req.URL, resp.Status)
	}
	return resp.Body, nil
}

// pullClient fetches bundles: the system's roots, or the pinned
// certificate when fingerprint is set; bounded waits for the connection
// and the headers (the body has its own stall limit).
func pullClient(fingerprint string) *http.Client {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if fingerprint != "" {
		tlsConf.InsecureSkipVerify = true // the pin below replaces the chain
		tlsConf.VerifyConnection = func(cs tls.ConnectionState) error {
			return pinned(cs, fingerprint)
		}
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: time.Minute,
	}}
}

// pinned checks the peer's certificate against a fingerprint.
func pinned(cs tls.ConnectionState, fingerprint string) error {
	if len(cs.PeerCertificates) == 0 {
		return fmt.Errorf("no server certificate")
	}
	if got := Fingerprint(cs.PeerCertificates[0].Raw); got != fingerprint {
		return fmt.Errorf("server certificate sha256 %s, pinned %s", got, fingerprint)
	}
	return nil
}

func isFingerprint(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// stallReader renews a stall timer on every read.
type stallReader struct {
	r io.Reader
	t *time.Timer
}

func (s *stallReader) Read(b []byte) (int, error) {
	s.t.Reset(idleTimeout)
	return s.r.Read(b)
}
