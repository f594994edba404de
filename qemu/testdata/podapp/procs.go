package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// The process endpoints look past the container through /proc: in a pod
// with hostPID they show the gateway's own processes, which is how the
// tests read edgecore's memory and restart it the hard way.

// serveProcs answers GET /procs?name=N with "<pid> <VmRSS kB>" for every
// process whose command name is N.
func serveProcs(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "missing ?name=", http.StatusBadRequest)
		return
	}
	for _, pid := range pidsNamed(name) {
		fmt.Fprintf(w, "%d %s\n", pid, rssKB(pid))
	}
}

// serveKill answers POST /kill?name=N by sending SIGKILL to every process
// named N, and lists the pids it killed.
func serveKill(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "missing ?name=", http.StatusBadRequest)
		return
	}
	pids := pidsNamed(name)
	if len(pids) == 0 {
		http.Error(w, "no process named "+name, http.StatusNotFound)
		return
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			http.Error(w, fmt.Sprintf("kill %d: %v", pid, err), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%d\n", pid)
	}
}

func pidsNamed(name string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, d := range dirs {
		comm, err := os.ReadFile(filepath.Join(d, "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// rssKB is the VmRSS of pid in kB, or "?".
func rssKB(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "?"
}
