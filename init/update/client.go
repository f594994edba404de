package update

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/edgegate/edgegate/image/bundle"
)

// ClientOptions say how a client proves itself and trusts the gateway.
type ClientOptions struct {
	Key bundle.PrivateKey // the operator's key (edgegate ota keygen)
	// KnownGateways is the trust-on-first-use file; "" with Fingerprint
	// set pins only.
	KnownGateways string
	// Fingerprint pins the gateway's certificate (hex sha256 of its DER).
	Fingerprint string
	// NoReboot asks the gateway not to reboot after an update: the trial
	// happens at its next boot.
	NoReboot bool
}

// Client talks to a gateway's update service.
type Client struct {
	addr     string // host:port
	base     string // https://host:port
	http     *http.Client
	noReboot bool
	poll     time.Duration // WaitOutcome's interval
}

// NewClient returns a client of the gateway at target (host or
// host:port; the port defaults to DefaultPort).
func NewClient(target string, o ClientOptions) (*Client, error) {
	addr, err := targetAddr(target)
	if err != nil {
		return nil, err
	}
	cert, err := ClientCertificate(o.Key)
	if err != nil {
		return nil, err
	}
	trust, err := serverTrust(addr, o)
	if err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		// The gateway's certificate is self-signed: it is checked by its
		// fingerprint below, not by a chain.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return fmt.Errorf("gateway %s presented no certificate", addr)
			}
			return trust(Fingerprint(cs.PeerCertificates[0].Raw))
		},
	}
	return &Client{
		addr: addr, base: "https://" + addr, noReboot: o.NoReboot, poll: 2 * time.Second,
		http: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tlsConf,
			TLSHandshakeTimeout: 30 * time.Second,
			// A bundle is tens of MiB: write it in large pieces.
			WriteBufferSize: 64 << 10,
		}},
	}, nil
}

// targetAddr adds the default port to a target without one.
func targetAddr(target string) (string, error) {
	if target == "" || strings.Contains(target, "/") {
		return "", fmt.Errorf("target %q: want HOST or HOST:PORT", target)
	}
	if host, port, err := net.SplitHostPort(target); err == nil {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
			return "", fmt.Errorf("target %q: want HOST or HOST:PORT", target)
		}
		return target, nil
	}
	return net.JoinHostPort(strings.Trim(target, "[]"), strconv.Itoa(DefaultPort)), nil
}

// serverTrust returns the check of the gateway's fingerprint: the pin
// when there is one, else the known gateways file.
func serverTrust(addr string, o ClientOptions) (func(fp string) error, error) {
	switch {
	case o.Fingerprint != "":
		pin := strings.ToLower(o.Fingerprint)
		if !isFingerprint(pin) {
			return nil, fmt.Errorf("fingerprint %q: want 64 hex digits (sha256)", o.Fingerprint)
		}
		return func(fp string) error {
			if fp != pin {
				return fmt.Errorf("gateway %s presented a certificate with sha256 %s, not the pinned %s", addr, fp, pin)
			}
			return nil
		}, nil
	case o.KnownGateways != "":
		k := &knownGateways{path: o.KnownGateways}
		return func(fp string) error { return k.check(addr, fp) }, nil
	}
	return nil, fmt.Errorf("no way to trust the gateway: give a known gateways file or a fingerprint")
}

// Push streams a bundle of size bytes (-1: unknown) to the gateway and
// returns once its slot is on trial, calling progress as bytes go out.
func (c *Client) Push(ctx context.Context, r io.Reader, size int64, progress func(sent, total int64)) (Result, error) {
	body := &progressReader{r: r, total: size, fn: progress}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/update"+c.query(), body)
	if err != nil {
		return Result{}, err
	}
	req.ContentLength = size
	if size < 0 {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var res Result
	return res, c.do(req, &res)
}

// Pull has the gateway download the bundle at url itself (http, or https
// checked against its system roots).
func (c *Client) Pull(ctx context.Context, url string) (Result, error) {
	return c.PullPinned(ctx, url, "")
}

// PullPinned is Pull from an https source whose certificate the gateway
// checks against fingerprint (hex sha256 of its DER) instead of roots.
func (c *Client) PullPinned(ctx context.Context, url, fingerprint string) (Result, error) {
	b, err := json.Marshal(PullRequest{URL: url, Fingerprint: fingerprint})
	if err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/update/pull"+c.query(), bytes.NewReader(b))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	var res Result
	return res, c.do(req, &res)
}

// Status returns the gateway's update status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/status", nil)
	if err != nil {
		return Status{}, err
	}
	var st Status
	return st, c.do(req, &st)
}

func (c *Client) query() string {
	if c.noReboot {
		return "?reboot=false"
	}
	return ""
}

// do sends req and decodes a 200 reply into v, or returns the gateway's
// *Error.
func (c *Client) do(req *http.Request, v any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("gateway %s: %w", c.addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("gateway %s: reading the reply: %w", c.addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{Status: resp.StatusCode}
		if json.Unmarshal(body, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		return e
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("gateway %s: reply: %w", c.addr, err)
	}
	return nil
}

// progressReader reports the bytes read from it.
type progressReader struct {
	r     io.Reader
	sent  int64
	total int64
	fn    func(sent, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.sent += int64(n)
	if p.fn != nil && n > 0 {
		p.fn(p.sent, p.total)
	}
	return n, err
}
