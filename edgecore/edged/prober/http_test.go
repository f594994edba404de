package prober

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// serverAddr splits a test server's URL into host and port.
func serverAddr(t *testing.T, rawURL string) (string, int) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("parsing server URL %q: %v", rawURL, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("server URL %q has no port: %v", rawURL, err)
	}
	return u.Hostname(), port
}

// freePort returns a local port that nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("closing listener: %v", err)
	}
	return port
}

func httpProbe(port int, path string) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{
		Path: path,
		Port: intstr.FromInt32(int32(port)),
	}}}
}

// newMux serves the paths the HTTP tests probe.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	status := func(code int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("/ok", status(http.StatusOK, "all good"))
	mux.HandleFunc("/nocontent", status(http.StatusNoContent, ""))
	mux.HandleFunc("/399", status(399, "odd but fine"))
	mux.HandleFunc("/notmodified", status(http.StatusNotModified, ""))
	mux.HandleFunc("/400", status(http.StatusBadRequest, "secret detail"))
	mux.HandleFunc("/404", status(http.StatusNotFound, "nope"))
	mux.HandleFunc("/500", status(http.StatusInternalServerError, "boom"))
	mux.HandleFunc("/big", status(http.StatusOK, strings.Repeat("b", 3*maxOutput)))
	mux.HandleFunc("/redirect-ok", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/redirect-500", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/500", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s?%s", r.URL.Path, r.URL.RawQuery)
	})
	return mux
}

func TestHTTPProbeStatus(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)

	tests := []struct {
		path    string
		want    Result
		wantMsg string
	}{
		{path: "/ok", want: Success, wantMsg: "all good"},
		{path: "/nocontent", want: Success, wantMsg: ""},
		{path: "/399", want: Success, wantMsg: "Probe terminated redirects, Response body: odd but fine"},
		{path: "/notmodified", want: Success, wantMsg: "Probe terminated redirects, Response body: "},
		{path: "/400", want: Failure, wantMsg: "HTTP probe failed with statuscode: 400"},
		{path: "/404", want: Failure, wantMsg: "HTTP probe failed with statuscode: 404"},
		{path: "/500", want: Failure, wantMsg: "HTTP probe failed with statuscode: 500"},
		{path: "/redirect-ok", want: Success, wantMsg: "all good"},
		{path: "/redirect-500", want: Failure, wantMsg: "HTTP probe failed with statuscode: 500"},
		{path: "/big", want: Success, wantMsg: strings.Repeat("b", maxOutput)},
		{path: "/query?a=1&b=two", want: Success, wantMsg: "/query?a=1&b=two"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, msg := probeOnce(context.Background(), httpProbe(port, tc.path), Target{PodIP: host}, nil, 5*time.Second)
			if got != tc.want || msg != tc.wantMsg {
				t.Errorf("probe %s = %v, %.100q; want %v, %.100q", tc.path, got, msg, tc.want, tc.wantMsg)
			}
		})
	}
}

func TestHTTPProbeRedirectLoopFails(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)

	got, msg := probeOnce(context.Background(), httpProbe(port, "/loop"), Target{PodIP: host}, nil, 5*time.Second)
	if got != Failure || !strings.Contains(msg, "stopped after 10 redirects") {
		t.Errorf("probe = %v, %q; want Failure after 10 redirects", got, msg)
	}
}

// hitCounter is a server that counts its requests.
type hitCounter struct {
	mu   sync.Mutex
	hits int
}

func (h *hitCounter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h.mu.Lock()
	h.hits++
	h.mu.Unlock()
	fmt.Fprint(w, "other server")
}

func (h *hitCounter) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits
}

func TestHTTPProbeRedirectToOtherHost(t *testing.T) {
	other := &hitCounter{}
	otherSrv := httptest.NewServer(other)
	defer otherSrv.Close()
	_, otherPort := serverAddr(t, otherSrv.URL)

	tests := []struct {
		name      string
		location  string
		want      string
		wantHits  int
		wantFinal bool
	}{
		{
			// Same host name, other port: still the pod, so followed.
			name: "same host other port", location: fmt.Sprintf("http://127.0.0.1:%d/", otherPort),
			want: "other server", wantHits: 1,
		},
		{
			// "localhost" is another host name even though it is the same
			// machine: not followed, and the redirect is a warning success.
			name: "other host", location: fmt.Sprintf("http://localhost:%d/", otherPort),
			want: "Probe terminated redirects, Response body: moved", wantHits: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := other.count()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", tc.location)
				w.WriteHeader(http.StatusFound)
				fmt.Fprint(w, "moved")
			}))
			defer srv.Close()
			host, port := serverAddr(t, srv.URL)

			got, msg := probeOnce(context.Background(), httpProbe(port, "/"), Target{PodIP: host}, nil, 5*time.Second)
			if got != Success || msg != tc.want {
				t.Errorf("probe = %v, %q; want Success, %q", got, msg, tc.want)
			}
			if hits := other.count() - before; hits != tc.wantHits {
				t.Errorf("redirect target hit %d times, want %d", hits, tc.wantHits)
			}
		})
	}
}

// requestRecorder records the last request's headers.
type requestRecorder struct {
	mu     sync.Mutex
	header http.Header
	host   string
	close  bool
	proto  int
}

func (r *requestRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.header, r.host, r.close, r.proto = req.Header.Clone(), req.Host, req.Close, req.ProtoMajor
	r.mu.Unlock()
	fmt.Fprint(w, "seen")
}

func (r *requestRecorder) last() (http.Header, string, bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.header, r.host, r.close, r.proto
}

func TestHTTPProbeHeaders(t *testing.T) {
	rec := &requestRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)
	serverHost := net.JoinHostPort(host, strconv.Itoa(port))

	tests := []struct {
		name       string
		headers    []v1.HTTPHeader
		wantHost   string
		wantHeader map[string][]string // nil slice: header absent
	}{
		{
			name:     "kubelet defaults",
			wantHost: serverHost,
			wantHeader: map[string][]string{
				"User-Agent":      {"kube-probe/1.32"},
				"Accept":          {"*/*"},
				"Accept-Encoding": nil,
			},
		},
		{
			name: "custom headers and Host override",
			headers: []v1.HTTPHeader{
				{Name: "Host", Value: "app.example.com"},
				{Name: "x-custom", Value: "one"},
				{Name: "X-Custom", Value: "two"},
				{Name: "user-agent", Value: "my-agent"},
				{Name: "Accept", Value: "application/json"},
			},
			wantHost: "app.example.com",
			wantHeader: map[string][]string{
				"X-Custom":   {"one", "two"},
				"User-Agent": {"my-agent"},
				"Accept":     {"application/json"},
			},
		},
		{
			name:       "empty Accept removes it",
			headers:    []v1.HTTPHeader{{Name: "Accept", Value: ""}},
			wantHost:   serverHost,
			wantHeader: map[string][]string{"Accept": nil, "User-Agent": {"kube-probe/1.32"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := httpProbe(port, "/")
			p.HTTPGet.HTTPHeaders = tc.headers
			if got, msg := probeOnce(context.Background(), p, Target{PodIP: host}, nil, 5*time.Second); got != Success {
				t.Fatalf("probe = %v, %q; want Success", got, msg)
			}
			header, gotHost, closed, _ := rec.last()
			if gotHost != tc.wantHost {
				t.Errorf("Host = %q, want %q", gotHost, tc.wantHost)
			}
			if !closed {
				t.Error("request did not ask to close the connection; keep-alive must be off")
			}
			for name, want := range tc.wantHeader {
				got := header.Values(name)
				if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestHTTPProbeTargets(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)
	container := &v1.Container{Name: "app", Ports: []v1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}

	tests := []struct {
		name    string
		action  v1.HTTPGetAction
		target  Target
		want    Result
		wantSub string
	}{
		{
			name:   "explicit host without pod IP",
			action: v1.HTTPGetAction{Host: host, Port: intstr.FromInt32(int32(port)), Path: "/ok"},
			target: Target{}, want: Success, wantSub: "all good",
		},
		{
			name:   "named port",
			action: v1.HTTPGetAction{Port: intstr.FromString("web"), Path: "/ok"},
			target: Target{PodIP: host, Container: container}, want: Success, wantSub: "all good",
		},
		{
			name:   "unknown named port",
			action: v1.HTTPGetAction{Port: intstr.FromString("admin"), Path: "/ok"},
			target: Target{PodIP: host, Container: container}, want: Unknown,
			wantSub: `http probe of container app: probe port "admin" is not a port declared by container app`,
		},
		{
			name:   "no host and no pod IP",
			action: v1.HTTPGetAction{Port: intstr.FromInt32(int32(port))},
			target: Target{Container: container}, want: Unknown, wantSub: "pod IP is unknown",
		},
		{
			name:   "lower-case scheme",
			action: v1.HTTPGetAction{Scheme: "http", Port: intstr.FromInt32(int32(port)), Path: "/ok"},
			target: Target{PodIP: host}, want: Success, wantSub: "all good",
		},
		{
			name:   "nothing listening",
			action: v1.HTTPGetAction{Port: intstr.FromInt(freePort(t)), Path: "/ok"},
			target: Target{PodIP: host}, want: Failure, wantSub: "connection refused",
		},
		{
			name:   "HTTPS against a plain server",
			action: v1.HTTPGetAction{Scheme: v1.URISchemeHTTPS, Port: intstr.FromInt32(int32(port)), Path: "/ok"},
			target: Target{PodIP: host}, want: Failure, wantSub: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			action := tc.action
			p := &v1.Probe{ProbeHandler: v1.ProbeHandler{HTTPGet: &action}}
			got, msg := probeOnce(context.Background(), p, tc.target, nil, 5*time.Second)
			if got != tc.want || !strings.Contains(msg, tc.wantSub) {
				t.Errorf("probe = %v, %q; want %v containing %q", got, msg, tc.want, tc.wantSub)
			}
		})
	}
}

func TestHTTPSProbeSkipsCertificateVerification(t *testing.T) {
	srv := httptest.NewTLSServer(newMux())
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)

	p := httpProbe(port, "/ok")
	p.HTTPGet.Scheme = v1.URISchemeHTTPS
	got, msg := probeOnce(context.Background(), p, Target{PodIP: host}, nil, 5*time.Second)
	if got != Success || msg != "all good" {
		t.Errorf("probe = %v, %q; want Success from a self-signed server", got, msg)
	}
}

func TestHTTPProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	host, port := serverAddr(t, srv.URL)

	start := time.Now()
	got, msg := probeOnce(context.Background(), httpProbe(port, "/"), Target{PodIP: host}, nil, 50*time.Millisecond)
	if got != Failure || !strings.Contains(msg, "Timeout") {
		t.Errorf("probe = %v, %q; want Failure by timeout", got, msg)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("probe took %v, want about the 50ms timeout", elapsed)
	}
}

func TestHTTPProbeH2C(t *testing.T) {
	rec := &requestRecorder{}
	srv := httptest.NewUnstartedServer(rec)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)

	h2 := v1.HTTPProtocolHTTP2
	h1 := v1.HTTPProtocolHTTP1
	bogus := v1.HTTPProtocol("SPDY")
	tests := []struct {
		name     string
		protocol *v1.HTTPProtocol
		scheme   v1.URIScheme
		want     Result
		wantSub  string
	}{
		{name: "h2c", protocol: &h2, want: Success, wantSub: "seen"},
		{name: "HTTP/1.1 to an h2c-only server", protocol: &h1, want: Failure},
		{name: "h2c needs plain HTTP", protocol: &h2, scheme: v1.URISchemeHTTPS, want: Unknown, wantSub: "needs scheme HTTP"},
		{name: "unknown protocol", protocol: &bogus, want: Unknown, wantSub: `unsupported protocol "SPDY"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := httpProbe(port, "/")
			p.HTTPGet.Protocol = tc.protocol
			p.HTTPGet.Scheme = tc.scheme
			got, msg := probeOnce(context.Background(), p, Target{PodIP: host}, nil, 5*time.Second)
			if got != tc.want || !strings.Contains(msg, tc.wantSub) {
				t.Fatalf("probe = %v, %q; want %v containing %q", got, msg, tc.want, tc.wantSub)
			}
			if tc.want == Success {
				if _, _, _, proto := rec.last(); proto != 2 {
					t.Errorf("request used HTTP/%d, want HTTP/2", proto)
				}
			}
		})
	}
}

func TestOnceHTTP(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)

	got, msg := Once(context.Background(), httpProbe(port, "/ok"), Target{PodIP: host}, nil)
	if got != Success || msg != "all good" {
		t.Errorf("Once = %v, %q; want Success", got, msg)
	}
}

func TestHTTPProbeCancelledIsUnknown(t *testing.T) {
	srv := httptest.NewServer(newMux())
	defer srv.Close()
	host, port := serverAddr(t, srv.URL)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, msg := probeOnce(ctx, httpProbe(port, "/ok"), Target{PodIP: host}, nil, 5*time.Second)
	if got != Unknown || !strings.Contains(msg, "interrupted") {
		t.Errorf("probe = %v, %q; want Unknown: a cancelled probe is no verdict", got, msg)
	}
}
