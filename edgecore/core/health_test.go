package core

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// waitState polls until module name is in state want.
func waitState(t *testing.T, c *Core, name string, want ModuleState) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.Health().Modules[name] != want {
		if time.Now().After(deadline) {
			t.Fatalf("module %s is %s, want %s", name, c.Health().Modules[name], want)
		}
		time.Sleep(time.Millisecond)
	}
}

func healthz(t *testing.T, c *Core) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	c.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// TestHealthMeansModulesRunning: the health check answers 200 only while
// every enabled module runs. Before the modules start, while one waits to
// be restarted, and once one ended for good, it answers 503 naming them.
func TestHealthMeansModulesRunning(t *testing.T) {
	slowRestart := &RestartPolicy{Type: RestartOnFailure, Interval: time.Hour}
	tests := []struct {
		name   string
		policy *RestartPolicy
		run    func(context.Context) error
		state  ModuleState
	}{
		{"running", nil, untilDone, ModuleRunning},
		{"failed, no restart", nil, fail, ModuleFailed},
		{"exited, no restart", &RestartPolicy{Type: RestartOnFailure}, exitClean, ModuleExited},
		{"waiting to restart", slowRestart, fail, ModuleRestarting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(WithShutdownTimeout(time.Second))
			c.Register(&fake{name: "steady", group: "g", enabled: true, runs: []func(context.Context) error{untilDone}})
			c.Register(&fake{name: "probe", group: "g", enabled: true, policy: tt.policy, runs: []func(context.Context) error{tt.run}})
			c.Register(&fake{name: "off", group: "g", runs: []func(context.Context) error{fail}})
			if code, body := healthz(t, c); code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "modules not running: probe (pending), steady (pending)\n") {
				t.Fatalf("before start: %d %q", code, body)
			}
			if err := c.StartModules(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitState(t, c, "steady", ModuleRunning)
			waitState(t, c, "probe", tt.state)
			code, body := healthz(t, c)
			if tt.state == ModuleRunning {
				if code != http.StatusOK || !strings.Contains(body, `"probe":"running"`) || strings.Contains(body, `"off"`) {
					t.Fatalf("all running: %d %q, want 200 with the enabled modules' states", code, body)
				}
			} else if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "modules not running: probe ("+string(tt.state)+")\n") {
				t.Fatalf("%d %q, want 503 naming probe (%s)", code, body, tt.state)
			}
			if err := c.Shutdown(); err != nil {
				t.Fatal(err)
			}
			if code, _ := healthz(t, c); code != http.StatusServiceUnavailable || c.Health().Modules["steady"] != ModuleStopped {
				t.Fatalf("after shutdown: %d, %v", code, c.Health())
			}
		})
	}
}
