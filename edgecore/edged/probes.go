package edged

import (
	"context"
	"slices"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/prober"
)

// containerProbes are the probe workers of one running container
// instance. The startup probe, when there is one, holds the others back
// until it passed.
type containerProbes struct {
	cancel context.CancelFunc

	mu      sync.Mutex
	ready   bool
	started *bool
}

func (p *containerProbes) isReady() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ready
}

func (p *containerProbes) isStarted() *bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started == nil {
		return nil
	}
	v := *p.started
	return &v
}

// syncProbes starts probe workers for running containers that have
// probes and stops those of containers that no longer run.
func (w *worker) syncProbes(ctx context.Context, pod *v1.Pod, in instances) {
	running := map[string]bool{}
	for name, l := range in {
		cur := l[0]
		if cur.State != containerd.Running {
			continue
		}
		running[cur.ID] = true
		if _, ok := w.probes[cur.ID]; ok {
			continue
		}
		spec := specByName(pod, name)
		if spec == nil || (spec.LivenessProbe == nil && spec.ReadinessProbe == nil && spec.StartupProbe == nil) {
			continue
		}
		w.probes[cur.ID] = w.startProbes(ctx, pod, spec, cur)
	}
	for id, p := range w.probes {
		if !running[id] {
			p.cancel()
			delete(w.probes, id)
		}
	}
}

// startProbes runs the container's probe workers. Readiness changes
// update the pod status; a liveness failure restarts the container (its
// exit then goes through the restart policy, as the kubelet's kill does).
func (w *worker) startProbes(ctx context.Context, pod *v1.Pod, spec *v1.Container, c containerd.Container) *containerProbes {
	ctx, cancel := context.WithCancel(ctx)
	// A container adopted after an edgecore restart keeps the verdicts it
	// had: it does not turn unready until its probes say so.
	before := w.reported(pod, spec.Name, c.ID)
	p := &containerProbes{cancel: cancel, ready: spec.ReadinessProbe == nil || (before != nil && before.Ready)}
	target := prober.Target{PodIP: w.podIP(), ContainerID: c.ID, Container: spec, StartedAt: c.StartedAt}
	var opts []prober.Option
	if before != nil && before.Started != nil && *before.Started {
		opts = append(opts, prober.WithStartJitter())
		t := true
		p.started = &t
	} else if spec.StartupProbe != nil {
		gate := make(chan struct{})
		f := false
		p.started = &f
		opts = append(opts, prober.WithGate(gate))
		sw := prober.NewWorker(prober.Startup, spec.StartupProbe, target, w.m.rt, func(r prober.Result) {
			switch r {
			case prober.Success:
				p.mu.Lock()
				t := true
				p.started = &t
				p.mu.Unlock()
				close(gate)
				w.kick()
			case prober.Failure:
				klog.Infof("edged: pod %s/%s: container %s failed its startup probe; restarting it", pod.Namespace, pod.Name, spec.Name)
				go w.killContainer(context.WithoutCancel(ctx), pod, spec, c.ID, whyStartup)
			}
		}, w.probeEvents(pod, spec, c.ID, prober.Startup))
		go sw.Run(ctx)
	}
	if spec.ReadinessProbe != nil {
		rw := prober.NewWorker(prober.Readiness, spec.ReadinessProbe, target, w.m.rt, func(r prober.Result) {
			p.mu.Lock()
			p.ready = r == prober.Success
			p.mu.Unlock()
			w.kick()
		}, append(slices.Clip(opts), w.probeEvents(pod, spec, c.ID, prober.Readiness))...)
		go rw.Run(ctx)
	}
	if spec.LivenessProbe != nil {
		lw := prober.NewWorker(prober.Liveness, spec.LivenessProbe, target, w.m.rt, func(r prober.Result) {
			if r == prober.Failure {
				klog.Infof("edged: pod %s/%s: container %s failed its liveness probe; restarting it", pod.Namespace, pod.Name, spec.Name)
				go w.killContainer(context.WithoutCancel(ctx), pod, spec, c.ID, whyLiveness)
			}
		}, append(slices.Clip(opts), w.probeEvents(pod, spec, c.ID, prober.Liveness))...)
		go lw.Run(ctx)
	}
	return p
}

// probeEvents records the kubelet's Unhealthy event for every probe
// attempt that fails ("Liveness probe failed: <output>") or errors.
func (w *worker) probeEvents(pod *v1.Pod, spec *v1.Container, id string, kind prober.Kind) prober.Option {
	return prober.WithObserver(func(r prober.Result, msg string) {
		switch r {
		case prober.Failure:
			w.m.containerEvent(pod, spec, id, v1.EventTypeWarning, eventUnhealthy, "%s probe failed: %s", kind, msg)
		case prober.Unknown:
			w.m.containerEvent(pod, spec, id, v1.EventTypeWarning, eventUnhealthy, "%s probe errored: %s", kind, msg)
		}
	})
}

// reported is the status last reported for this instance of the
// container (by this process, or, after a restart, as the cloud has it),
// or nil.
func (w *worker) reported(pod *v1.Pod, name, id string) *v1.ContainerStatus {
	st := &pod.Status
	if w.sent != nil {
		st = w.sent
	}
	for i := range st.ContainerStatuses {
		cs := &st.ContainerStatuses[i]
		if cs.Name == name && cs.ContainerID == "containerd://"+id {
			return cs
		}
	}
	return nil
}

// stopProbes ends every probe worker of the pod.
func (w *worker) stopProbes() {
	for id, p := range w.probes {
		p.cancel()
		delete(w.probes, id)
	}
}
