package prober

import (
	"context"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
)

const (
	// defaultTimeoutSeconds is the API default of timeoutSeconds, applied here
	// too because pods built without the API server's defaulting carry 0.
	defaultTimeoutSeconds = 1
	// maxOutput bounds the exec output and HTTP body a probe keeps, as the
	// kubelet does, so a chatty probe cannot bloat events or memory.
	maxOutput = 10 << 10
	// userAgent is what the kubelet of the Kubernetes version edged follows
	// sends; some applications special-case it.
	userAgent = "kube-probe/1.32"
)

// Once runs a single attempt of probe p against t and returns the result and a
// message for events and logs: the exec output or HTTP body on Success and
// Failure, the reason on Unknown. It waits at most the probe's timeoutSeconds
// (1 s when unset). ex runs exec probes; it may be nil for other handlers.
//
// Unknown means the attempt could not be made or was interrupted (ctx ended):
// an exec that could not be started, a named port that the container does not
// declare, no handler. The kubelet treats these as errors and throws the
// attempt away rather than counting it as a failure; Worker does the same.
func Once(ctx context.Context, p *v1.Probe, t Target, ex Execer) (Result, string) {
	return probeOnce(ctx, p, t, ex, probeTimeout(p, time.Second))
}

// probeOnce is Once with the timeout already worked out, so that Worker can
// scale it together with the rest of the schedule.
func probeOnce(ctx context.Context, p *v1.Probe, t Target, ex Execer, timeout time.Duration) (Result, string) {
	if p == nil {
		return Unknown, fmt.Sprintf("container %s: no probe given", t.containerName())
	}
	result, msg := runHandler(ctx, p, t, ex, timeout)
	// A Failure seen after the caller gave up is an artefact of the
	// cancellation (a refused or aborted request), not a verdict on the
	// container.
	if err := ctx.Err(); err != nil && result == Failure {
		return Unknown, fmt.Sprintf("probe of container %s interrupted: %v", t.containerName(), err)
	}
	return result, msg
}

// runHandler dispatches on the probe's handler, in the kubelet's order.
func runHandler(ctx context.Context, p *v1.Probe, t Target, ex Execer, timeout time.Duration) (Result, string) {
	switch {
	case p.Exec != nil:
		return probeExec(ctx, p.Exec, t, ex, timeout)
	case p.HTTPGet != nil:
		return probeHTTP(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		return probeTCP(ctx, p.TCPSocket, t, timeout)
	case p.GRPC != nil:
		return probeGRPC(ctx, p.GRPC, t, timeout)
	}
	return Unknown, fmt.Sprintf("probe of container %s has no handler: set one of exec, httpGet, tcpSocket or grpc", t.containerName())
}

// probeTimeout is timeoutSeconds (defaulted) in units of unit.
func probeTimeout(p *v1.Probe, unit time.Duration) time.Duration {
	seconds := int32(defaultTimeoutSeconds)
	if p != nil && p.TimeoutSeconds > 0 {
		seconds = p.TimeoutSeconds
	}
	return time.Duration(seconds) * unit
}

// truncate keeps the first maxOutput bytes of b.
func truncate(b []byte) []byte {
	if len(b) > maxOutput {
		return b[:maxOutput]
	}
	return b
}
