package edged

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/prober"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// hookHTTPTimeout bounds an httpGet hook that has no deadline of its own
// (postStart): the kubelet waits without limit, but a hung endpoint must not
// hold the pod's worker for ever.
const hookHTTPTimeout = 30 * time.Second

// minGrace is the kubelet's floor for a kill's grace period.
const minGrace = 2 * time.Second

// gracePeriod is how long the pod's containers get between SIGTERM and
// SIGKILL: the deletion's grace period, else the spec's (30 s default).
func gracePeriod(pod *v1.Pod) time.Duration {
	secs := int64(30)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		secs = *pod.DeletionGracePeriodSeconds
	}
	return max(time.Duration(secs)*time.Second, minGrace)
}

// killContainer runs the preStop hook, then stops the container within
// the pod's grace period (what the hook used counts against it).
func (w *worker) killContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, id, why string) {
	grace := gracePeriod(pod)
	deadline := time.Now().Add(grace)
	if c != nil && c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		hctx, cancel := context.WithDeadline(ctx, deadline)
		w.runHook(hctx, pod, c, id, c.Lifecycle.PreStop, "preStop")
		cancel()
	}
	left := max(time.Until(deadline), minGrace)
	klog.V(2).Infof("edged: pod %s/%s: stopping container %s (%s), grace %s", pod.Namespace, pod.Name, id, why, left)
	if c != nil {
		w.m.containerEvent(pod, c, id, v1.EventTypeNormal, eventKilling, "%s", killMessage(c, why))
	}
	if err := w.m.rt.Stop(ctx, id, left); err != nil {
		klog.Errorf("edged: pod %s/%s: stop %s: %v", pod.Namespace, pod.Name, id, err)
	}
}

// runHook runs a lifecycle handler (exec, httpGet, sleep). A failure is
// logged: the kubelet kills a container whose postStart fails, here the
// liveness probe is the tool for that.
func (w *worker) runHook(ctx context.Context, pod *v1.Pod, c *v1.Container, id string, h *v1.LifecycleHandler, name string) {
	var err error
	switch {
	case h.Exec != nil:
		var code int
		var out []byte
		code, out, err = w.m.rt.Exec(ctx, id, h.Exec.Command)
		if err == nil && code != 0 {
			err = fmt.Errorf("exited %d: %s", code, out)
		}
	case h.HTTPGet != nil:
		err = w.httpHook(ctx, c, id, h.HTTPGet)
	case h.Sleep != nil:
		select {
		case <-time.After(time.Duration(h.Sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
	}
	if err != nil {
		klog.Warningf("edged: pod %s/%s: container %s: %s hook: %v", pod.Namespace, pod.Name, c.Name, name, err)
		// As the kubelet, the event does not carry the hook's output,
		// which may hold secrets.
		if name == "postStart" {
			w.m.containerEvent(pod, c, id, v1.EventTypeWarning, eventFailedPostStart, "PostStartHook failed")
		} else {
			w.m.containerEvent(pod, c, id, v1.EventTypeWarning, eventFailedPreStop, "PreStopHook failed")
		}
	}
}

// httpHook runs an httpGet lifecycle handler with the prober's HTTP client,
// so a hook and a probe of the same endpoint see the same request (host,
// named port, headers, redirects, status judgement). It may use what is
// left of ctx's deadline (the grace period for preStop), else
// hookHTTPTimeout.
func (w *worker) httpHook(ctx context.Context, c *v1.Container, id string, a *v1.HTTPGetAction) error {
	timeout := hookHTTPTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	p := &v1.Probe{
		ProbeHandler:   v1.ProbeHandler{HTTPGet: a},
		TimeoutSeconds: int32(max(1, math.Ceil(timeout.Seconds()))),
	}
	result, msg := prober.Once(ctx, p, prober.Target{PodIP: w.podIP(), ContainerID: id, Container: c}, nil)
	if result != prober.Success {
		return fmt.Errorf("httpGet %s: %s", a.Path, msg)
	}
	return nil
}

// terminating handles a pod the cloud is deleting (deletionTimestamp
// set): stop every container within the grace period, report the final
// status, then confirm the deletion as the kubelet does, so that
// `kubectl delete pod` completes; the cloud's delete then removes it.
func (w *worker) terminating(ctx context.Context, pod *v1.Pod) time.Duration {
	in, err := w.m.podInstances(ctx, w.uid)
	if err != nil {
		klog.Errorf("edged: pod %s/%s: %v", pod.Namespace, pod.Name, err)
		return 5 * time.Second
	}
	if w.stopAll(ctx, pod, in) {
		if in, err = w.m.podInstances(ctx, w.uid); err != nil {
			return 5 * time.Second
		}
	}
	w.stopProbes()
	if w.confirmed {
		// The cloud deletes the pod now; a status would find it gone.
		return w.m.cfg.Resync
	}
	w.report(ctx, pod, in, true)
	opts := metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: &metav1.Preconditions{UID: &pod.UID}}
	resource := model.BuildResource(pod.Namespace, model.ResourceTypePod, pod.Name)
	err = nodestatus.Request(w.m.bus, w.m.cfg.RequestTimeout, resource, model.DeleteOperation, opts, nil)
	if err != nil {
		klog.Warningf("edged: pod %s/%s: confirm deletion: %v; retrying", pod.Namespace, pod.Name, err)
		return 5 * time.Second
	}
	w.confirmed = true
	return w.m.cfg.Resync
}

// stopAll stops every running container of the pod in parallel (each
// with its preStop hook and the grace period). It reports whether it
// stopped any.
func (w *worker) stopAll(ctx context.Context, pod *v1.Pod, in instances) bool {
	return w.stopRunning(ctx, pod, in, whyDeleted)
}

// stopRunning is stopAll for the reason why.
func (w *worker) stopRunning(ctx context.Context, pod *v1.Pod, in instances, why string) bool {
	done := make(chan struct{})
	n := 0
	for name, l := range in {
		spec := specByName(pod, name)
		for _, c := range l {
			if c.State != containerd.Running {
				continue
			}
			n++
			go func() {
				defer func() { done <- struct{}{} }()
				w.killContainer(ctx, pod, spec, c.ID, why)
			}()
		}
	}
	for range n {
		<-done
	}
	return n > 0
}

func specByName(pod *v1.Pod, name string) *v1.Container {
	for _, c := range allContainers(pod) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// cleanup removes everything of a pod the cloud deleted: containers,
// network namespace and host ports, volumes, logs.
func (w *worker) cleanup(ctx context.Context, pod *v1.Pod) error {
	in, err := w.m.podInstances(ctx, w.uid)
	if err != nil {
		return err
	}
	w.stopAll(ctx, pod, in)
	w.stopProbes()
	w.m.tokens.ForgetPod(pod.UID)
	var errs []error
	for _, l := range in {
		for _, c := range l {
			if err := w.m.rt.Remove(ctx, c.ID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if n, err := w.m.network(); err == nil {
		if err := n.Teardown(ctx, w.uid); err != nil {
			errs = append(errs, fmt.Errorf("network: %w", err))
		}
	}
	if err := w.m.vols.Teardown(w.uid); err != nil {
		errs = append(errs, fmt.Errorf("volumes: %w", err))
	}
	if err := containerlog.RemovePod(w.m.cfg.LogsDir, pod.Namespace, pod.Name, w.uid); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("logs: %w", err))
	}
	for _, c := range allContainers(pod) {
		w.m.backoff.Reset(backoffKey(w.uid, c.Name))
		w.m.backoff.Reset("pull/" + backoffKey(w.uid, c.Name))
	}
	if len(errs) == 0 {
		klog.Infof("edged: pod %s/%s removed", pod.Namespace, pod.Name)
	}
	return errors.Join(errs...)
}

// finished reports whether the pod will run nothing more: every
// container exited and the restart policy restarts none of them (or an
// init container failed under Never).
func (w *worker) finished(pod *v1.Pod, in instances) bool {
	policy := pod.Spec.RestartPolicy
	if policy == v1.RestartPolicyAlways || policy == "" {
		return false
	}
	for i := range pod.Spec.InitContainers {
		c := in.newest(pod.Spec.InitContainers[i].Name)
		if c != nil && c.State == containerd.Exited && c.Exit.Code != 0 && policy == v1.RestartPolicyNever {
			return true
		}
	}
	for i := range pod.Spec.Containers {
		c := in.newest(pod.Spec.Containers[i].Name)
		if c == nil || c.State != containerd.Exited || shouldRestart(policy, false, c.Exit) {
			return false
		}
	}
	return true
}

// finish releases what a finished pod no longer needs: its network (the
// kubelet tears the sandbox down) and its probes.
func (w *worker) finish(ctx context.Context, pod *v1.Pod, in instances) {
	w.stopProbes()
	if w.torn || pod.Spec.HostNetwork {
		return
	}
	n, err := w.m.network()
	if err != nil {
		return
	}
	if err := n.Teardown(ctx, w.uid); err != nil {
		klog.Warningf("edged: pod %s/%s: release network: %v", pod.Namespace, pod.Name, err)
		return
	}
	w.torn = true
}
