package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
)

// probeExec runs the probe command in the container. Exit status 0 is
// Success, any other status Failure. As with the kubelet's exec probe timeout
// (GA since 1.27), running out of time is a Failure; any other error running
// the command is Unknown.
func probeExec(ctx context.Context, a *v1.ExecAction, t Target, ex Execer, timeout time.Duration) (Result, string) {
	if ex == nil {
		return Unknown, fmt.Sprintf("exec probe of container %s: no command runner configured", t.containerName())
	}
	if t.ContainerID == "" {
		return Unknown, fmt.Sprintf("exec probe of container %s: container ID is empty", t.containerName())
	}
	if len(a.Command) == 0 {
		return Unknown, fmt.Sprintf("exec probe of container %s: command is empty", t.containerName())
	}
	cmd := expandCommand(a.Command, containerEnv(t.Container))

	execCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	code, out, err := ex.Exec(execCtx, t.ContainerID, cmd)
	output := string(truncate(out))

	switch {
	case err == nil && code == 0:
		return Success, output
	case err == nil:
		return Failure, exitMessage(cmd, code, output)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(execCtx.Err(), context.DeadlineExceeded):
		msg := fmt.Sprintf("command %q timed out after %v", strings.Join(cmd, " "), timeout)
		if output != "" {
			msg += ": " + output
		}
		return Failure, msg
	}
	return Unknown, fmt.Sprintf("exec probe %q in container %s: %v", strings.Join(cmd, " "), t.containerName(), err)
}

// exitMessage is the command's output, as the kubelet reports it, or a note of
// the exit status when the command printed nothing.
func exitMessage(cmd []string, code int, output string) string {
	if output != "" {
		return output
	}
	return fmt.Sprintf("command %q exited with status %d", strings.Join(cmd, " "), code)
}

// containerEnv maps the container's env names to their literal values. Values
// taken from elsewhere (valueFrom) map to "", as in the kubelet, which does
// not resolve them for probe commands.
func containerEnv(c *v1.Container) map[string]string {
	env := map[string]string{}
	if c == nil {
		return env
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}
