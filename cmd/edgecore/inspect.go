package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/edged"
)

// inspectServer answers local inspection requests on a unix socket (mode
// 0600, so only root or the edgecore user can ask):
//
//	GET /healthz 200 when every enabled module runs, else 503 naming those
//	            that do not (init's health check of edgecore)
//	GET /edged  what edged holds: the desired pods metamanager forwarded and
//	            message counters (desired state only; no containers run)
//	GET /cloud  200 while the link to the cloud is up, 503 while it is not,
//	            404 when edgehub is disabled (init's boot timeline waits
//	            for the first connection)
//	GET /bus    messages the bus dropped (unknown destination; from the
//	            cloud link, a queue full for the whole shed wait),
//	            responses that matched no waiting caller, and each
//	            module's queue: messages, bytes, byte budget, shed
type inspectServer struct {
	srv *http.Server
	ln  net.Listener
}

func startInspect(path string, b *bus.Bus, ed *edged.Module, health, cloud http.Handler) (*inspectServer, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("inspect socket: remove stale %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("inspect socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("inspect socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", health)
	mux.Handle("GET /cloud", cloud)
	if ed.Enable() {
		mux.Handle("GET /edged", ed)
	} else {
		mux.HandleFunc("GET /edged", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "edged is disabled (modules.edged.enable: false)", http.StatusNotFound)
		})
	}
	mux.HandleFunc("GET /bus", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(busStatus{Dropped: b.Dropped(), UnmatchedResponses: b.UnmatchedResponses(), Shed: b.Shed(), Queues: b.Stats()})
	})
	s := &inspectServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln: ln}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.Errorf("inspect socket: %v", err)
		}
	}()
	klog.Infof("inspect socket listening on %s", path)
	return s, nil
}

// cloudHandler answers GET /cloud from whether edgehub is enabled and
// connected.
func cloudHandler(enabled bool, connected func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case !enabled:
			http.Error(w, "edgehub is disabled (modules.edgeHub.enable: false): no cloud link", http.StatusNotFound)
		case connected():
			fmt.Fprintln(w, "connected")
		default:
			http.Error(w, "not connected to the cloud", http.StatusServiceUnavailable)
		}
	})
}

// busStatus is the answer to GET /bus.
type busStatus struct {
	Dropped            uint64                    `json:"dropped"`
	UnmatchedResponses uint64                    `json:"unmatchedResponses"`
	Shed               uint64                    `json:"shed"`
	Queues             map[string]bus.QueueStats `json:"queues"`
}

// close stops serving and removes the socket file.
func (s *inspectServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	_ = os.Remove(s.ln.Addr().String())
}
