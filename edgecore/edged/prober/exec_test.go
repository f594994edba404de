package prober

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// execFunc adapts a function to Execer, standing in for the runtime.
type execFunc func(ctx context.Context, containerID string, cmd []string) (int, []byte, error)

func (f execFunc) Exec(ctx context.Context, containerID string, cmd []string) (int, []byte, error) {
	return f(ctx, containerID, cmd)
}

// blockingExec waits for its context like an exec that hangs, and returns
// the context's error as the runtime does.
var blockingExec = execFunc(func(ctx context.Context, _ string, _ []string) (int, []byte, error) {
	<-ctx.Done()
	return -1, []byte("partial"), fmt.Errorf("exec in container: %w", ctx.Err())
})

func execProbe(cmd ...string) *v1.Probe {
	return &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: cmd}}}
}

func TestExecProbeResults(t *testing.T) {
	long := strings.Repeat("x", maxOutput+100)
	tests := []struct {
		name    string
		exec    Execer
		timeout time.Duration
		want    Result
		wantMsg string // exact message unless wantSub
		wantSub bool
	}{
		{
			name: "exit 0",
			exec: execFunc(func(context.Context, string, []string) (int, []byte, error) { return 0, []byte("ok\n"), nil }),
			want: Success, wantMsg: "ok\n",
		},
		{
			name: "non-zero exit reports output",
			exec: execFunc(func(context.Context, string, []string) (int, []byte, error) { return 1, []byte("not healthy"), nil }),
			want: Failure, wantMsg: "not healthy",
		},
		{
			name: "non-zero exit without output reports status",
			exec: execFunc(func(context.Context, string, []string) (int, []byte, error) { return 2, nil, nil }),
			want: Failure, wantMsg: `command "check" exited with status 2`,
		},
		{
			name: "output truncated to 10 KiB",
			exec: execFunc(func(context.Context, string, []string) (int, []byte, error) { return 1, []byte(long), nil }),
			want: Failure, wantMsg: long[:maxOutput],
		},
		{
			name: "exec error is unknown",
			exec: execFunc(func(context.Context, string, []string) (int, []byte, error) {
				return 0, nil, errors.New("task not found")
			}),
			want: Unknown, wantMsg: `exec probe "check" in container app: task not found`,
		},
		{
			name: "timeout is failure", exec: blockingExec, timeout: 30 * time.Millisecond,
			want: Failure, wantMsg: `command "check" timed out after 30ms: partial`,
		},
		{
			name: "no execer", exec: nil,
			want: Unknown, wantMsg: "no command runner configured", wantSub: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = time.Second
			}
			target := Target{ContainerID: "c1", Container: &v1.Container{Name: "app"}}
			got, msg := probeOnce(context.Background(), execProbe("check"), target, tc.exec, timeout)
			if got != tc.want {
				t.Errorf("result = %v, want %v (message %q)", got, tc.want, msg)
			}
			if tc.wantSub && !strings.Contains(msg, tc.wantMsg) || !tc.wantSub && msg != tc.wantMsg {
				t.Errorf("message = %.200q, want %.200q", msg, tc.wantMsg)
			}
		})
	}
}

func TestExecProbePassesContainerCommandAndDeadline(t *testing.T) {
	var mu sync.Mutex
	var gotID string
	var gotCmd []string
	var gotTimeout time.Duration
	ex := execFunc(func(ctx context.Context, id string, cmd []string) (int, []byte, error) {
		mu.Lock()
		defer mu.Unlock()
		gotID, gotCmd = id, cmd
		if dl, ok := ctx.Deadline(); ok {
			gotTimeout = time.Until(dl)
		}
		return 0, nil, nil
	})
	c := &v1.Container{Name: "app", Env: []v1.EnvVar{
		{Name: "FILE", Value: "/tmp/healthy"},
		{Name: "SECRET", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{Key: "k"}}},
	}}
	p := execProbe("sh", "-c", "cat $(FILE) $(SECRET) $(NOPE) $$(FILE)")
	p.TimeoutSeconds = 3

	if got, msg := Once(context.Background(), p, Target{ContainerID: "abc123", Container: c}, ex); got != Success {
		t.Fatalf("Once = %v (%q), want Success", got, msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotID != "abc123" {
		t.Errorf("container ID = %q, want abc123", gotID)
	}
	wantCmd := []string{"sh", "-c", "cat /tmp/healthy  $(NOPE) $(FILE)"}
	if !slices.Equal(gotCmd, wantCmd) {
		t.Errorf("command = %q, want %q", gotCmd, wantCmd)
	}
	if gotTimeout <= 2*time.Second || gotTimeout > 3*time.Second {
		t.Errorf("exec deadline in %v, want about timeoutSeconds (3s)", gotTimeout)
	}
}

func TestOnceDefaultsTimeoutToOneSecond(t *testing.T) {
	var got time.Duration
	ex := execFunc(func(ctx context.Context, _ string, _ []string) (int, []byte, error) {
		dl, _ := ctx.Deadline()
		got = time.Until(dl)
		return 0, nil, nil
	})
	Once(context.Background(), execProbe("true"), Target{ContainerID: "c"}, ex)
	if got <= 0 || got > time.Second {
		t.Errorf("exec deadline in %v, want within the default 1s", got)
	}
}

func TestExecProbeRejectsBadInput(t *testing.T) {
	ok := execFunc(func(context.Context, string, []string) (int, []byte, error) { return 0, nil, nil })
	tests := []struct {
		name    string
		probe   *v1.Probe
		target  Target
		wantSub string
	}{
		{name: "no container ID", probe: execProbe("true"), target: Target{}, wantSub: "container ID is empty"},
		{name: "empty command", probe: execProbe(), target: Target{ContainerID: "c"}, wantSub: "command is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := Once(context.Background(), tc.probe, tc.target, ok)
			if got != Unknown || !strings.Contains(msg, tc.wantSub) {
				t.Errorf("Once = %v, %q; want Unknown with %q", got, msg, tc.wantSub)
			}
		})
	}
}

func TestOnceCancelledIsUnknown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ex := execFunc(func(ctx context.Context, _ string, _ []string) (int, []byte, error) {
		cancel()
		<-ctx.Done()
		return -1, nil, ctx.Err()
	})
	got, msg := probeOnce(ctx, execProbe("sleep", "10"), Target{ContainerID: "c"}, ex, time.Minute)
	if got != Unknown || !strings.Contains(msg, "canceled") {
		t.Errorf("probeOnce = %v, %q; want Unknown (canceled)", got, msg)
	}
}

func TestOnceWithoutHandler(t *testing.T) {
	tests := []struct {
		name    string
		probe   *v1.Probe
		wantSub string
	}{
		{name: "nil probe", probe: nil, wantSub: "no probe given"},
		{name: "no handler", probe: &v1.Probe{PeriodSeconds: 3}, wantSub: "has no handler"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := Once(context.Background(), tc.probe, Target{Container: &v1.Container{Name: "app"}}, nil)
			if got != Unknown || !strings.Contains(msg, tc.wantSub) || !strings.Contains(msg, "app") {
				t.Errorf("Once = %v, %q; want Unknown naming container app and %q", got, msg, tc.wantSub)
			}
		})
	}
}
