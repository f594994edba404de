package core

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// ModuleState is where an enabled module is in its life.
type ModuleState string

// Module states.
const (
	ModulePending    ModuleState = "pending"    // modules not started yet
	ModuleRunning    ModuleState = "running"    // in Start
	ModuleRestarting ModuleState = "restarting" // Start returned; its policy restarts it after a pause
	ModuleFailed     ModuleState = "failed"     // Start failed and the policy gives up
	ModuleExited     ModuleState = "exited"     // Start returned and the policy does not restart it
	ModuleStopped    ModuleState = "stopped"    // shut down
)

func (r *runner) set(s ModuleState) {
	r.mu.Lock()
	r.state = s
	r.mu.Unlock()
}

func (r *runner) get() ModuleState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state
}

// Health is the enabled modules' states, what edgecore's health check
// answers from.
type Health struct {
	Modules map[string]ModuleState `json:"modules"`
}

// Healthy is true when every enabled module is running: the question
// init asks before it starts what depends on edgecore, and keeps asking
// to restart an edgecore whose module died for good. A socket that
// accepts says only that the process lives.
func (h Health) Healthy() bool {
	return len(h.Modules) > 0 && len(h.NotRunning()) == 0
}

// NotRunning names the modules that are not running, with their states,
// sorted: "edged (failed)".
func (h Health) NotRunning() []string {
	var out []string
	for name, st := range h.Modules {
		if st != ModuleRunning {
			out = append(out, fmt.Sprintf("%s (%s)", name, st))
		}
	}
	slices.Sort(out)
	return out
}

// Health returns the state of every enabled module; before StartModules
// they are all pending.
func (c *Core) Health() Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := Health{Modules: make(map[string]ModuleState, len(c.modules))}
	for _, m := range c.modules {
		h.Modules[m.Name()] = ModulePending
	}
	for _, r := range c.running {
		h.Modules[r.m.Name()] = r.get()
	}
	return h
}

// HealthHandler answers a health check (GET /healthz): 200 when every
// enabled module runs, 503 otherwise, the first line naming the modules
// that do not; the body then holds every module's state as JSON.
func (c *Core) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := c.Health()
		body, err := json.Marshal(h)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if h.Healthy() {
			fmt.Fprintf(w, "ok\n%s\n", body)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "modules not running: %s\n%s\n", strings.Join(h.NotRunning(), ", "), body)
	})
}
