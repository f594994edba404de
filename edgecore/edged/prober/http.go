package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// maxRedirects is where the probe stops following same-host redirects, the
// limit of Go's default client that the kubelet keeps.
const maxRedirects = 10

// probeHTTP sends a GET and judges the status: 200-399 is Success, anything
// else or no response within timeout is Failure. Redirects are followed only
// to the same host name; a redirect elsewhere is not followed and counts as
// Success with a warning message, as in the kubelet.
func probeHTTP(ctx context.Context, a *v1.HTTPGetAction, t Target, timeout time.Duration) (Result, string) {
	req, err := newHTTPRequest(ctx, a, t)
	if err != nil {
		return Unknown, fmt.Sprintf("http probe of container %s: %v", t.containerName(), err)
	}
	transport, err := newHTTPTransport(a)
	if err != nil {
		return Unknown, fmt.Sprintf("http probe of container %s: %v", t.containerName(), err)
	}
	client := &http.Client{
		Timeout:       timeout,
		Transport:     transport,
		CheckRedirect: sameHostRedirects,
	}
	resp, err := client.Do(req)
	if err != nil {
		return Failure, err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxOutput))
	if err != nil {
		// The kubelet treats a broken body as a probe error, not a failure.
		return Unknown, fmt.Sprintf("http probe of container %s: reading the response body from %s: %v", t.containerName(), req.URL, err)
	}
	return judgeStatus(resp.StatusCode, string(body))
}

// judgeStatus maps the final HTTP status to a result. A 3xx reaching here is
// a redirect the probe did not follow.
func judgeStatus(code int, body string) (Result, string) {
	switch {
	case code >= 200 && code < 300:
		return Success, body
	case code >= 300 && code < 400:
		return Success, "Probe terminated redirects, Response body: " + body
	}
	// Like the kubelet, leave the body out: it may echo secrets.
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", code)
}

// newHTTPRequest builds the GET the kubelet would send for a.
func newHTTPRequest(ctx context.Context, a *v1.HTTPGetAction, t Target) (*http.Request, error) {
	scheme := httpScheme(a)
	host := a.Host
	if host == "" {
		host = t.PodIP
	}
	if host == "" {
		return nil, errors.New("no host given and the pod IP is unknown")
	}
	port, err := resolvePort(a.Port, t.Container)
	if err != nil {
		return nil, err
	}
	u := probeURL(scheme, host, port, a.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", u, err)
	}
	req.Header = probeHeaders(a.HTTPHeaders)
	// A Host header in the spec names the virtual host; Go sends req.Host.
	req.Host = req.Header.Get("Host")
	return req, nil
}

// httpScheme is the URL scheme of a, "http" when unset.
func httpScheme(a *v1.HTTPGetAction) string {
	if a.Scheme == "" {
		return "http"
	}
	return strings.ToLower(string(a.Scheme))
}

// probeURL places path (which may carry a query) on scheme://host:port. A path
// that does not parse is used verbatim, which is the kubelet's legacy
// behaviour.
func probeURL(scheme, host string, port int, path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	return u
}

// probeHeaders turns the spec's headers into request headers and adds the
// kubelet's defaults: its User-Agent and "Accept: */*" unless the spec sets
// them. An Accept header set to "" in the spec removes Accept altogether.
func probeHeaders(spec []v1.HTTPHeader) http.Header {
	h := make(http.Header)
	for _, e := range spec {
		h.Add(e.Name, e.Value)
	}
	if _, ok := h["User-Agent"]; !ok {
		h.Set("User-Agent", userAgent)
	}
	if _, ok := h["Accept"]; !ok {
		h.Set("Accept", "*/*")
	} else if h.Get("Accept") == "" {
		h.Del("Accept")
	}
	return h
}

// newHTTPTransport returns a one-shot transport: keep-alive is off so that
// every probe opens a fresh connection (and nothing is pooled between
// probes), TLS certificates are not verified (pods serve self-signed ones),
// no proxy is used, and responses are not decompressed.
func newHTTPTransport(a *v1.HTTPGetAction) (*http.Transport, error) {
	tr := &http.Transport{
		DialContext:        probeDialer().DialContext,
		TLSClientConfig:    &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:  true,
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	if a.Protocol == nil || *a.Protocol == v1.HTTPProtocolHTTP1 {
		return tr, nil
	}
	if *a.Protocol != v1.HTTPProtocolHTTP2 {
		return nil, fmt.Errorf("unsupported protocol %q", *a.Protocol)
	}
	if httpScheme(a) != "http" {
		return nil, fmt.Errorf("protocol %s (h2c) needs scheme HTTP, not %s", v1.HTTPProtocolHTTP2, a.Scheme)
	}
	// HTTP/2 over cleartext with prior knowledge (h2c), the only HTTP/2 mode
	// the API allows.
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	tr.Protocols = &protocols
	return tr, nil
}

// sameHostRedirects follows a redirect only when it stays on the probed host
// name; otherwise the redirect response itself becomes the probe's answer.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if req.URL.Hostname() != via[0].URL.Hostname() {
		return http.ErrUseLastResponse
	}
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return nil
}
