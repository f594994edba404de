package kubeapi

import (
	"context"
	"sync"
	"testing"

	"k8s.io/klog/v2"
)

// ForTest builds (once per machine) and starts a server that stops when
// the test ends. It skips the test under -short: a real apiserver is a
// long test. A build or start failure fails the test.
//
// A cold build takes minutes; give go test a -timeout to match.
func ForTest(tb testing.TB) *Server {
	tb.Helper()
	skipShort(tb)
	s, err := buildAndStart(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			s.logTails(tb)
		}
		s.Stop()
	})
	return s
}

// shared is the server Shared hands out: started by the first call in a
// test binary, stopped by StopShared. Guarded by its own mutex, so that a
// late Shared after StopShared fails instead of reviving it.
var shared struct {
	mu      sync.Mutex
	started bool
	stopped bool
	server  *Server
	err     error
}

// Shared returns the test binary's one server, starting it on first use,
// for suites of many tests that each use their own names (nodes,
// namespaces) and need not pay a start each. Its lifetime is the test
// binary's: the package's TestMain must call StopShared after m.Run, which
// stops it and removes its files. Should the binary die first, the kernel
// kills the processes (Linux) but their directory stays in the temp dir.
// Like ForTest it skips under -short and fails the test when the server
// cannot be built or started.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	skipShort(tb)
	shared.mu.Lock()
	if shared.stopped {
		shared.mu.Unlock()
		tb.Fatal("kubeapi: Shared after StopShared")
	}
	if !shared.started {
		shared.started = true
		// Not the test's context: the start serves every later test.
		shared.server, shared.err = buildAndStart(context.Background())
	}
	s, err := shared.server, shared.err
	shared.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			s.logTails(tb)
		}
	})
	return s
}

// StopShared stops the server Shared started, if any. Call it from
// TestMain after m.Run:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		kubeapi.StopShared()
//		os.Exit(code)
//	}
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	if shared.server != nil {
		shared.server.Stop()
	}
}

func skipShort(tb testing.TB) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("kubeapi: a real kube-apiserver is a long test; skipped under -short")
	}
}

func buildAndStart(ctx context.Context) (*Server, error) {
	bins, err := Build(ctx, DefaultCacheDir(), klog.Infof)
	if err != nil {
		return nil, err
	}
	return Start(ctx, Options{Binaries: bins})
}

// logTails shows the end of both logs, for a test that failed.
func (s *Server) logTails(tb testing.TB) {
	tb.Helper()
	for _, p := range []*process{s.etcd, s.apiserver} {
		tb.Logf("kubeapi: end of %s:\n%s", p.log, tail(p.log, 8192))
	}
}
