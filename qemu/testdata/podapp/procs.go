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

// serveProcs answers GET /procs?name=N with "<pid> <VmRSS kB> <Pss kB>"
// for every process whose command name is N. Pss shares the pages of a
// binary that several processes map among them, which is what one more
// process of the same binary really costs.
func serveProcs(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "missing ?name=", http.StatusBadRequest)
		return
	}
	for _, pid := range pidsNamed(name) {
		fmt.Fprintf(w, "%d %s %s\n", pid, statusKB(pid, "status", "VmRSS:"), statusKB(pid, "smaps_rollup", "Pss:"))
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

// statusKB is the kB figure of the line starting with key in
// /proc/<pid>/<file>, or "?".
func statusKB(pid int, file, key string) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSuffix(strings.TrimSpace(v), " kB")
		}
	}
	return "?"
}
