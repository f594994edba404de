package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// setupServe registers serve's flags; the action runs the HTTP server.
func setupServe(fs *flag.FlagSet) func([]string) error {
	port := fs.Int("port", 8080, "TCP port to listen on (all addresses)")
	var readyAfter time.Duration
	fs.Var((*duration)(&readyAfter), "ready-after", "answer /healthz with 503 until this long after start")
	text := fs.String("text", "", "body of / (default: podapp HOSTNAME)")
	return func([]string) error {
		if *text == "" {
			host, _ := os.Hostname()
			*text = "podapp " + host
		}
		return serve(*port, readyAfter, *text)
	}
}

// serve answers:
//
//	/healthz    200 once readyAfter has passed since start, 503 before
//	/env        the environment, sorted, one variable a line
//	/file?path  the file's contents
//	/ls?path    the names in the directory, sorted, one a line
//	/ns         the namespaces it runs in, "<name> <link>" a line (sharing.go)
//	/procs?name processes named so, with their resident memory (procs.go)
//	/kill?name  POST: SIGKILL to processes named so (procs.go)
//	/           text
//
// and logs one line per request on stdout (the container log).
func serve(port int, readyAfter time.Duration, text string) error {
	start := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if time.Since(start) < readyAfter {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, sortedEnv())
	})
	mux.HandleFunc("GET /file", serveFile)
	mux.HandleFunc("GET /ls", serveList)
	mux.HandleFunc("GET /ns", serveNamespaces)
	mux.HandleFunc("GET /procs", serveProcs)
	mux.HandleFunc("POST /kill", serveKill)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, text)
	})

	l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return fmt.Errorf("listening on port %d: %w", port, err)
	}
	fmt.Printf("podapp: serving on %s\n", l.Addr())
	srv := &http.Server{Handler: logRequests(mux), ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(l)
}

func serveFile(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Query().Get("path")
	if path == "" {
		http.Error(w, "missing ?path=", http.StatusBadRequest)
		return
	}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(data)
	}
}

func serveList(w http.ResponseWriter, r *http.Request) {
	entries, err := os.ReadDir(r.URL.Query().Get("path"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	for _, e := range entries { // ReadDir sorts by name
		fmt.Fprintln(w, e.Name())
	}
}

// sortedEnv is the process environment sorted, one variable a line.
func sortedEnv() string {
	env := os.Environ()
	slices.Sort(env)
	var b strings.Builder
	for _, kv := range env {
		b.WriteString(kv)
		b.WriteByte('\n')
	}
	return b.String()
}

// statusRecorder remembers the status a handler wrote, for the log line.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		fmt.Printf("podapp: %s %s %d from %s\n", r.Method, r.URL.RequestURI(), rec.status, r.RemoteAddr)
	})
}
