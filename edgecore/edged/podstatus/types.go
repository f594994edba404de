package podstatus

import (
	"time"

	v1 "k8s.io/api/core/v1"
)

// Waiting is why the edge does not (re)start a container now: kubelet's
// reason cache, e.g. ErrImagePull, ImagePullBackOff, CrashLoopBackOff,
// CreateContainerConfigError, with its message.
type Waiting struct {
	Reason, Message string
}

// Running is a container instance that runs.
type Running struct {
	StartedAt time.Time
}

// Terminated is a container instance that has exited.
type Terminated struct {
	ExitCode   int32
	Signal     int32
	Reason     string // Completed, Error, OOMKilled, ... as the runtime reports it
	Message    string // the termination message
	StartedAt  time.Time
	FinishedAt time.Time
	// ContainerID as "containerd://<id>"; for the newest instance it may
	// be left empty and is then Container.ID.
	ContainerID string
}

// Container is what the runtime knows about one container of the pod.
//
// The runtime has an instance of it when ID is set or it runs or has
// terminated; otherwise the container was never created (or its instances
// were removed), and its status is kubelet's default: Waiting with reason
// ContainerCreating, or PodInitializing in a pod with init containers,
// carrying the restart count and last state of the previous status.
type Container struct {
	Name string
	ID   string // of the newest instance, as "containerd://<id>"
	// Image is the image the runtime reports for the instance; empty: the
	// spec's image. (Kubelet on containerd reports the normalised
	// reference, e.g. docker.io/library/nginx:latest for "nginx".)
	Image string
	// ImageID is the digested reference of what runs:
	// "<repo>@sha256:..." or the bare image digest.
	ImageID string

	// Running or Terminated is the state of the newest instance. Neither
	// with ID set: created, not started.
	Running    *Running
	Terminated *Terminated
	// Waiting is set when the edge holds the container back (kubelet's
	// reason cache). As in kubelet it applies only to a container that is
	// due a (re)start: one not running, not done by the restart policy,
	// in a pod not being deleted. A terminated newest instance then
	// becomes the last state.
	Waiting *Waiting
	// LastTerminated is the instance before the newest one, if the
	// runtime still has it.
	LastTerminated *Terminated
	// RestartCount of the newest instance (kubelet keeps it with the
	// container). Without an instance the previous status's count stays.
	RestartCount int32

	// Ready is the readiness probe's verdict: true when it passes or the
	// container has none. It counts only for a started, running container.
	Ready bool
	// Started is the startup probe's verdict; nil when the container has
	// no startup probe (then it has started once it runs).
	Started *bool
}

// Pod is what the edge knows about one pod.
type Pod struct {
	Pod *v1.Pod // the desired pod as the apiserver has it, status included
	// Previous is the status the edge generated last (kubelet's status
	// manager cache), when it may be newer than Pod.Status; nil:
	// Pod.Status. Container history, condition transition times, the start
	// time and the phase's reason carry over from it.
	Previous *v1.PodStatus

	// PodIPs are the sandbox's IPs. Keep reporting them after the sandbox
	// stopped, as containerd does for a stopped sandbox, or they vanish
	// from the status.
	PodIPs []string
	// HostIPs are the node's IPs, primary first.
	HostIPs []string
	// StartTime is when the edge first started working on the pod; zero:
	// now. It is set once; later values are ignored.
	StartTime time.Time
	// SandboxReady: the pod's sandbox (network namespace, with an IP
	// unless on the host network) is set up and current.
	SandboxReady bool
	// Terminal: the edge will start none of the pod's containers again
	// (deleted, evicted, admission refused): kubelet's podIsTerminal. Once
	// all containers are stopped the phase is then Succeeded or Failed
	// whatever the restart policy.
	Terminal bool
	// RecursiveReadOnlyMounts: the runtime makes read-only mounts
	// recursively read-only (reported per volume mount).
	RecursiveReadOnlyMounts bool

	Init, Containers, Ephemeral []Container // matched to the spec by name

	// Reason and Message, when Reason is set, fail the pod as kubelet's
	// eviction does (e.g. Evicted, or Terminated at node shutdown): phase
	// Failed with these, unless the apiserver already has the pod in a
	// terminal phase.
	Reason, Message string
}

// previous is the status Build carries history over from.
func (p *Pod) previous() *v1.PodStatus {
	if p.Previous != nil {
		return p.Previous
	}
	return &p.Pod.Status
}
