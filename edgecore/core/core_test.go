package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgegate/edgegate/edgecore/model"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a module whose Start behaviour is scripted per run.
type fake struct {
	name, group string
	enabled     bool
	policy      *RestartPolicy
	// runs[i] decides what run i does; the last entry repeats.
	runs    []func(ctx context.Context) error
	started atomic.Int32
	onStop  func(name string)
}

func (f *fake) Name() string                  { return f.name }
func (f *fake) Group() string                 { return f.group }
func (f *fake) Enable() bool                  { return f.enabled }
func (f *fake) RestartPolicy() *RestartPolicy { return f.policy }
func (f *fake) Start(ctx context.Context) error {
	n := int(f.started.Add(1)) - 1
	run := f.runs[min(n, len(f.runs)-1)]
	err := run(ctx)
	if f.onStop != nil {
		f.onStop(f.name)
	}
	return err
}

func untilDone(ctx context.Context) error { <-ctx.Done(); return nil }
func fail(context.Context) error          { return errors.New("boom") }
func exitClean(context.Context) error     { return nil }
func panicky(context.Context) error       { panic("kaboom") }

func TestBackoff(t *testing.T) {
	tests := []struct {
		policy RestartPolicy
		want   []time.Duration
	}{
		{RestartPolicy{}, []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}},
		{RestartPolicy{Interval: 3 * time.Second, GrowthRate: 3, MaxInterval: 60 * time.Second}, []time.Duration{3, 9, 27, 60, 60, 60, 60, 60}},
		{RestartPolicy{GrowthRate: 1}, []time.Duration{1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for _, tt := range tests {
		for i, w := range tt.want {
			if got := tt.policy.Backoff(i); got != w*time.Second {
				t.Errorf("%+v Backoff(%d) = %v, want %v", tt.policy, i, got, w*time.Second)
			}
		}
	}
}

func TestRestartPolicy(t *testing.T) {
	fast := func(typ RestartType, retries int) *RestartPolicy {
		return &RestartPolicy{Type: typ, Retries: retries, Interval: time.Millisecond, MaxInterval: 2 * time.Millisecond}
	}
	tests := []struct {
		name   string
		policy *RestartPolicy
		runs   []func(context.Context) error
		want   int32 // starts observed
	}{
		{name: "no policy, failure: not restarted", policy: nil, runs: []func(context.Context) error{fail}, want: 1},
		{name: "OnFailure, clean exit: not restarted", policy: fast(RestartOnFailure, 0), runs: []func(context.Context) error{exitClean}, want: 1},
		{name: "OnFailure, failure then ok", policy: fast(RestartOnFailure, 0), runs: []func(context.Context) error{fail, fail, untilDone}, want: 3},
		{name: "OnFailure, panic counts as failure", policy: fast(RestartOnFailure, 0), runs: []func(context.Context) error{panicky, untilDone}, want: 2},
		{name: "Always, clean exit restarted", policy: fast(RestartAlways, 0), runs: []func(context.Context) error{exitClean, exitClean, untilDone}, want: 3},
		{name: "retries limit", policy: fast(RestartAlways, 2), runs: []func(context.Context) error{fail}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(WithShutdownTimeout(time.Second))
			f := &fake{name: "m", group: "g", enabled: true, policy: tt.policy, runs: tt.runs}
			c.Register(f)
			if err := c.StartModules(context.Background()); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for f.started.Load() < tt.want && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(30 * time.Millisecond) // room for an unwanted extra restart
			if err := c.Shutdown(); err != nil {
				t.Fatal(err)
			}
			if got := f.started.Load(); got != tt.want {
				t.Fatalf("started %d times, want %d", got, tt.want)
			}
		})
	}
}

func TestShutdownOrderAndDisabled(t *testing.T) {
	c := New(WithShutdownTimeout(time.Second))
	var mu sync.Mutex
	var stopped []string
	record := func(name string) { mu.Lock(); stopped = append(stopped, name); mu.Unlock() }
	for _, n := range []string{"first", "second", "third"} {
		c.Register(&fake{name: n, group: "g", enabled: true, runs: []func(context.Context) error{untilDone}, onStop: record})
	}
	off := &fake{name: "off", group: "g", runs: []func(context.Context) error{untilDone}}
	c.Register(off)
	c.Register(Unimplemented{ModuleName: "edged", ModuleGroup: "edged"})
	if err := c.StartModules(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.Bus().Modules("g"); !slices.Equal(got, []string{"first", "second", "third"}) {
		t.Fatalf("group g = %v", got)
	}
	if c.Bus().HasModule("off") || c.Bus().HasModule("edged") {
		t.Fatal("disabled module was put on the bus")
	}
	if !slices.Equal(c.Disabled(), []string{"off", "edged"}) {
		t.Fatalf("Disabled() = %v", c.Disabled())
	}
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stopped, []string{"third", "second", "first"}) {
		t.Fatalf("stop order %v, want reverse start order", stopped)
	}
	if off.started.Load() != 0 {
		t.Fatal("disabled module was started")
	}
}

func TestModuleIgnoringShutdown(t *testing.T) {
	c := New(WithShutdownTimeout(50 * time.Millisecond))
	release := make(chan struct{})
	defer close(release)
	c.Register(&fake{name: "good", group: "g", enabled: true, runs: []func(context.Context) error{untilDone}})
	c.Register(&fake{name: "deaf", group: "g", enabled: true, runs: []func(context.Context) error{
		func(context.Context) error { <-release; return nil },
	}})
	if err := c.StartModules(context.Background()); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := c.Shutdown()
	if !errors.Is(err, ErrModulesStuck) || err.Error() != "modules did not stop in time: deaf" {
		t.Fatalf("Shutdown() = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown took %v; the wait must be bounded", d)
	}
}

func TestRunStopsOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			c := New(WithShutdownTimeout(time.Second))
			up := make(chan struct{})
			c.Register(&fake{name: "m", group: "g", enabled: true, runs: []func(context.Context) error{
				func(ctx context.Context) error { close(up); <-ctx.Done(); return nil },
			}})
			res := make(chan error, 1)
			go func() { res <- c.Run(context.Background()) }()
			<-up
			if err := syscall.Kill(syscall.Getpid(), sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-res:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after signal")
			}
		})
	}
}

// TestModulesTalkOverBus starts two modules on the core's bus: a pinger
// that SendSyncs and a ponger that answers.
func TestModulesTalkOverBus(t *testing.T) {
	c := New(WithShutdownTimeout(time.Second))
	b := c.Bus()
	got := make(chan string, 1)
	c.Register(&fake{name: "ponger", group: "p", enabled: true, runs: []func(context.Context) error{
		func(ctx context.Context) error {
			for {
				req, err := b.Receive(ctx, "ponger")
				if err != nil {
					return nil
				}
				b.SendResp(*model.NewRespByMessage(&req, "pong"))
			}
		},
	}})
	c.Register(&fake{name: "pinger", group: "p", enabled: true, runs: []func(context.Context) error{
		func(ctx context.Context) error {
			resp, err := b.SendSync("ponger", *model.NewMessage(""), time.Second)
			got <- fmt.Sprintf("%s %v", resp.ContentText(), err)
			<-ctx.Done()
			return nil
		},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- c.Run(ctx) }()
	if g := <-got; g != "pong <nil>" {
		t.Fatalf("pinger got %q", g)
	}
	cancel()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
}
