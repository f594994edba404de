package supervise

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegate/edgegate/init/config"
)

// TestStartIntervalUntilFirstSuccess: before its first passing check a
// service is checked every start interval, so it is seen healthy soon
// after it is up; after that, every interval.
func TestStartIntervalUntilFirstSuccess(t *testing.T) {
	tests := []struct {
		name          string
		interval      time.Duration
		startInterval time.Duration // 0: the default
		wantFirst     time.Duration // wait after a failing check before the first success
	}{
		{"default start interval", 5 * time.Second, 0, config.DefaultStartInterval},
		{"explicit start interval", 5 * time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond},
		{"interval shorter than the default", 300 * time.Millisecond, 0, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := filepath.Join(t.TempDir(), "up")
			s := shService("svc", "while :; do sleep 0.02; done", health(config.HealthCheck{
				Kind: config.HealthExec, Command: []string{"/bin/sh", "-c", "test -e " + up},
				Interval: config.Duration(tt.interval), StartInterval: config.Duration(tt.startInterval),
				Timeout: config.Duration(time.Second), FailureThreshold: 3}))
			clk := newFakeClock()
			ev := newEvents()
			sup, err := New([]config.Service{s}, Options{OnEvent: ev.add, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			sup.Start(context.Background())
			defer stopped(t, sup)

			ev.next(t, "svc", EventStarted)
			for range 2 { // still down: checked again a start interval later
				clk.waitTimer(t, tt.wantFirst)
				clk.Advance(tt.wantFirst)
			}
			clk.waitTimer(t, tt.wantFirst)
			if err := os.WriteFile(up, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.wantFirst)
			ev.next(t, "svc", EventHealthy)
			clk.waitTimer(t, tt.interval) // healthy: the steady interval
		})
	}
}
