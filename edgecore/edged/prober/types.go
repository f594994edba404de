package prober

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Kind is the purpose of a probe. It decides the initial result of a Worker
// and whether the Worker keeps probing after a thresholded result.
type Kind int

const (
	// Liveness probes decide whether a container must be restarted.
	Liveness Kind = iota
	// Readiness probes decide whether a container receives traffic.
	Readiness
	// Startup probes hold back the other probes until the container has started.
	Startup
)

func (k Kind) String() string {
	switch k {
	case Liveness:
		return "Liveness"
	case Readiness:
		return "Readiness"
	case Startup:
		return "Startup"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Result is the outcome of a probe attempt or the thresholded state of a
// Worker. Unknown is the zero value so that an unset Result never reads as a
// verdict.
type Result int

const (
	// Unknown means the probe could not be carried out (a configuration or
	// runtime error, or cancellation). Workers discard such attempts, as the
	// kubelet does; it is also a startup Worker's state before its first
	// thresholded result.
	Unknown Result = iota
	// Success means the container passed the probe.
	Success
	// Failure means the container failed the probe.
	Failure
)

func (r Result) String() string {
	switch r {
	case Unknown:
		return "Unknown"
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Execer runs a command in a running container. The runtime implements it
// (with containerd task.Exec).
//
// A nil error means the command ran and exitCode is its exit status. output is
// the combined stdout and stderr; the prober keeps only its first 10 KiB, so an
// implementation may stop collecting there. Exec must return when ctx ends,
// with an error that wraps ctx.Err(): that is how a probe timeout is told
// apart from a failure to exec.
type Execer interface {
	Exec(ctx context.Context, containerID string, cmd []string) (exitCode int, output []byte, err error)
}

// Target identifies the container instance a probe is aimed at.
type Target struct {
	// PodIP is the default host of httpGet and tcpSocket probes and the host
	// of grpc probes.
	PodIP string
	// ContainerID is the container exec probes run in.
	ContainerID string
	// Container is the container's spec: named probe ports resolve against its
	// ports, and $(VAR) references in exec commands against its env.
	Container *v1.Container
	// StartedAt is when the container started running. A Worker counts
	// initialDelaySeconds from it, as the kubelet does; when it is zero the
	// Worker counts from the start of Run. Once ignores it.
	StartedAt time.Time
}

// containerName names the target container in messages.
func (t Target) containerName() string {
	if t.Container != nil && t.Container.Name != "" {
		return t.Container.Name
	}
	if t.ContainerID != "" {
		return t.ContainerID
	}
	return "<unnamed>"
}
