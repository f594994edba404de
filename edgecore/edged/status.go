package edged

import (
	"context"
	"os"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/podstatus"
	"github.com/edgegate/edgegate/edgecore/model"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// maxTerminationMessage is the kubelet's cap on a termination message.
const maxTerminationMessage = 4096

// report builds the pod's status as the kubelet would and, when it
// changed from what the cloud last accepted, patches it up (KubeEdge's
// podpatch: a strategic-merge patch of the status, as a string). A
// status the cloud did not get (offline) is sent again at the next sync.
func (w *worker) report(ctx context.Context, pod *v1.Pod, in instances, terminal bool) {
	p := podstatus.Pod{
		Pod: pod, Previous: w.sent,
		PodIPs:       w.podIPs(),
		StartTime:    w.startTime,
		SandboxReady: pod.Spec.HostNetwork || (w.att != nil && !w.torn),
		Terminal:     terminal || pod.DeletionTimestamp != nil,
	}
	if msg := w.evictionMessage(); msg != "" {
		p.Reason, p.Message = reasonEvicted, msg
	}
	if ip := w.m.hostIP(); ip != "" {
		p.HostIPs = []string{ip}
	}
	for i := range pod.Spec.InitContainers {
		p.Init = append(p.Init, w.containerStatus(&pod.Spec.InitContainers[i], in))
	}
	for i := range pod.Spec.Containers {
		p.Containers = append(p.Containers, w.containerStatus(&pod.Spec.Containers[i], in))
	}
	status := podstatus.Build(p, time.Now())
	w.setView(pod, &status)

	base := pod.DeepCopy()
	if w.sent != nil {
		base.Status = *w.sent
	}
	patch, changed, err := podstatus.Patch(base, status)
	if err != nil {
		klog.Errorf("edged: pod %s/%s: status patch: %v", pod.Namespace, pod.Name, err)
		return
	}
	if !changed {
		return
	}
	resource := model.BuildResource(pod.Namespace, model.ResourceTypePodPatch, pod.Name)
	updated := &v1.Pod{}
	if err := nodestatus.Request(w.m.bus, w.m.cfg.RequestTimeout, resource, model.PatchOperation, string(patch), updated); err != nil {
		if nodestatus.IsLocal(err) {
			klog.V(2).Infof("edged: pod %s/%s: status not sent: %v", pod.Namespace, pod.Name, err)
		} else {
			klog.Warningf("edged: pod %s/%s: the cloud refused the status: %v", pod.Namespace, pod.Name, err)
		}
		return
	}
	// The next patch is made against what the cloud holds now, as the
	// kubelet's is against the apiserver's status: a terminal phase the
	// patch held back while a container still ran must go out once none
	// does, which a base of the status built here would hide.
	w.sent = &status
	if updated.UID == pod.UID && updated.Status.Phase != "" {
		w.sent = &updated.Status
	}
}

// containerStatus gathers what the runtime and the worker know about one
// container.
func (w *worker) containerStatus(spec *v1.Container, in instances) podstatus.Container {
	c := podstatus.Container{Name: spec.Name}
	if ref, err := containerd.NormalizeRef(spec.Image); err == nil {
		c.Image = ref
	}
	if ws, ok := w.waiting[spec.Name]; ok {
		c.Waiting = &podstatus.Waiting{Reason: ws.Reason, Message: ws.Message}
	}
	l := in[spec.Name]
	if len(l) == 0 {
		return c
	}
	cur := l[0]
	c.ID = "containerd://" + cur.ID
	c.ImageID = cur.Labels[containerd.LabelImageID]
	c.RestartCount = int32(cur.Attempt())
	switch cur.State {
	case containerd.Running:
		c.Running = &podstatus.Running{StartedAt: cur.StartedAt}
		c.Waiting = nil
	case containerd.Exited:
		c.Terminated = w.terminated(spec, cur)
	}
	if len(l) > 1 && l[1].State == containerd.Exited {
		c.LastTerminated = w.terminated(spec, l[1])
		c.LastTerminated.ContainerID = "containerd://" + l[1].ID
	}
	c.Ready = true
	if pr := w.probes[cur.ID]; pr != nil {
		c.Ready = pr.isReady()
		c.Started = pr.isStarted()
	} else if spec.ReadinessProbe != nil {
		c.Ready = false
	}
	return c
}

// terminated is the exit of one instance, with its termination message:
// the file the container wrote at terminationMessagePath, else (policy
// FallbackToLogsOnError, failed) the end of its log.
func (w *worker) terminated(spec *v1.Container, c containerd.Container) *podstatus.Terminated {
	e := c.Exit
	t := &podstatus.Terminated{ExitCode: e.Code, Signal: e.Signal, Reason: e.Reason, Message: e.Message,
		StartedAt: e.StartedAt, FinishedAt: e.FinishedAt}
	if msg := w.terminationMessage(spec, c); msg != "" {
		t.Message = msg
	}
	return t
}

func (w *worker) terminationMessage(spec *v1.Container, c containerd.Container) string {
	data, err := os.ReadFile(w.m.podFile(w.uid, "termination-"+c.ID))
	if err == nil && len(data) > 0 {
		return string(data[:min(len(data), maxTerminationMessage)])
	}
	if spec.TerminationMessagePolicy != v1.TerminationMessageFallbackToLogsOnError || c.Exit.Code == 0 {
		return ""
	}
	path := containerlog.Path(w.m.cfg.LogsDir, c.Labels[containerd.LabelPodNamespace], c.Labels[containerd.LabelPodName], w.uid, spec.Name, c.Attempt())
	lines, err := containerlog.Tail(path, 80)
	if err != nil {
		return ""
	}
	msg := strings.Join(lines, "\n")
	if len(msg) > maxTerminationMessage {
		msg = msg[len(msg)-maxTerminationMessage:]
	}
	return msg
}

func (w *worker) setView(pod *v1.Pod, s *v1.PodStatus) {
	v := PodSummary{Namespace: pod.Namespace, Name: pod.Name, UID: w.uid, Phase: string(s.Phase), PodIP: s.PodIP}
	v.Ready = true
	for _, cs := range s.ContainerStatuses {
		v.Restarts += cs.RestartCount
		v.Ready = v.Ready && cs.Ready
	}
	w.mu.Lock()
	w.view = v
	w.mu.Unlock()
}
