// Package prober runs Kubernetes container probes (liveness, readiness and
// startup) for edged's containerd pod runtime. edged has no kubelet, so the
// kubelet's prober semantics are reproduced here: the same handlers (exec,
// httpGet, tcpSocket, grpc), the same mapping of outcomes to results, the same
// schedule (initialDelaySeconds, periodSeconds) and the same thresholds.
//
// Once runs a single probe attempt. Worker runs the attempts of one probe of
// one container instance on the probe's schedule and reports each change of
// the thresholded result.
//
// # Wiring a container's probes
//
// The kubelet does not run liveness and readiness probes of a container with
// a startup probe until that probe has succeeded. A Worker is given that
// condition as a gate channel, which the startup worker's callback closes:
//
//	started := make(chan struct{})
//	startup := prober.NewWorker(prober.Startup, c.StartupProbe, t, ex, func(r prober.Result) {
//		if r == prober.Success {
//			close(started) // a startup Worker reports Success at most once
//		} else {
//			// restart the container
//		}
//	})
//	live := prober.NewWorker(prober.Liveness, c.LivenessProbe, t, ex, onLiveness, prober.WithGate(started))
//	ready := prober.NewWorker(prober.Readiness, c.ReadinessProbe, t, ex, onReadiness, prober.WithGate(started))
//
// Without a startup probe the container counts as started when it runs, and
// no gate is needed. A container without a readiness probe is ready as soon as
// it has started; one without a liveness probe is never restarted for being
// unhealthy. Both decisions belong to the caller: no Worker exists for an
// absent probe.
//
// A Worker belongs to one container instance (one ContainerID). After a
// restart the caller starts new workers for the new instance, which is how the
// kubelet's "on hold until a new container ID" rule maps onto this package.
// The caller also stops the workers when the container stops running, and
// stops the liveness and startup workers (not readiness) when the pod starts
// graceful termination, as the kubelet does.
package prober
