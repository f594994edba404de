package edged

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/podipc"
	"github.com/edgegate/edgegate/edgecore/edged/podnet"
	"github.com/edgegate/edgegate/edgecore/edged/podspec"
)

// Waiting reasons the kubelet reports, which kubectl users know.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonConfigError       = "CreateContainerConfigError"
	reasonCreateError       = "CreateContainerError"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonRunInitError      = "RunInitContainerError"
)

// instances are a pod's containers in containerd, by container name,
// newest attempt first.
type instances map[string][]containerd.Container

func (in instances) newest(name string) *containerd.Container {
	if l := in[name]; len(l) > 0 {
		return &l[0]
	}
	return nil
}

// runtimeTimeout bounds a query to containerd: its client waits for the
// connection otherwise, and a worker must not hang on a restarting daemon.
const runtimeTimeout = 10 * time.Second

// podInstances lists the pod's containers in containerd. A list it could
// not get is an error, never "no containers": the caller tries again.
func (m *Module) podInstances(ctx context.Context, uid string) (instances, error) {
	all, err := m.listPod(ctx, uid)
	if err != nil {
		return nil, err
	}
	in := instances{}
	for _, c := range all {
		if c.Labels[containerd.LabelPodUID] == uid {
			name := c.Labels[containerd.LabelContainerName]
			in[name] = append(in[name], c)
		}
	}
	for _, l := range in {
		sort.Slice(l, func(i, j int) bool { return l[i].Attempt() > l[j].Attempt() })
	}
	return in, nil
}

func (m *Module) listPod(ctx context.Context, uid string) ([]containerd.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, runtimeTimeout)
	defer cancel()
	return m.rt.List(ctx, uid)
}

// syncRunning is the kubelet's SyncPod for a pod that is wanted: network,
// IPC, volumes, init containers in order, then every container, restarted
// by the restart policy with the crash-loop back-off; then its status. A
// pod that is done (finished, evicted, or Failed or Succeeded in the
// cloud) has what still runs stopped and starts nothing.
func (w *worker) syncRunning(ctx context.Context, pod *v1.Pod) time.Duration {
	next := w.m.cfg.Resync
	if w.startTime.IsZero() {
		w.startTime = time.Now()
	}
	in, err := w.m.podInstances(ctx, w.uid)
	if err != nil {
		klog.Errorf("edged: pod %s/%s: %v", pod.Namespace, pod.Name, err)
		w.volumesWithoutRuntime(pod)
		return 5 * time.Second
	}
	w.adopt(ctx, pod, in)
	if bad := pod.Annotations[invalidPodAnnotation]; bad != "" {
		w.holdAll(pod, reasonConfigError, bad)
		w.report(ctx, pod, in, false)
		return next
	}
	terminal := w.finished(pod, in)
	if !terminal && w.done(pod) {
		in = w.stopForGood(ctx, pod, in)
		terminal = true
	}
	if terminal {
		w.finish(ctx, pod, in)
		w.report(ctx, pod, in, true)
		return next
	}
	mounts, err := w.prepare(ctx, pod)
	if err != nil {
		w.report(ctx, pod, in, false)
		return 5 * time.Second
	}
	if d, ok := w.syncInit(ctx, pod, in, mounts); ok {
		for i := range pod.Spec.Containers {
			if d := w.syncContainer(ctx, pod, &pod.Spec.Containers[i], false, in, mounts); d > 0 && d < next {
				next = d
			}
		}
	} else if d > 0 && d < next {
		next = d
	}
	if in, err = w.m.podInstances(ctx, w.uid); err == nil {
		w.syncProbes(ctx, pod, in)
		w.prune(ctx, in)
		w.report(ctx, pod, in, false)
	}
	return next
}

// adopt follows the running containers that outlived an edgecore
// restart: their output goes to the same log again and their exit is
// recorded, without restarting them.
func (w *worker) adopt(ctx context.Context, pod *v1.Pod, in instances) {
	for name, l := range in {
		c := l[0]
		if c.State != containerd.Running {
			continue
		}
		if _, ok := w.m.watched.LoadOrStore(c.ID, true); ok {
			continue
		}
		log, err := w.m.openLog(pod, name, c.Attempt())
		if err == nil {
			err = w.m.rt.Attach(ctx, c.ID, log, w.exited)
			if err != nil {
				log.Close()
			}
		}
		if err != nil {
			w.m.watched.Delete(c.ID)
			klog.Errorf("edged: pod %s/%s: adopt container %s: %v", pod.Namespace, pod.Name, c.ID, err)
			continue
		}
		klog.Infof("edged: pod %s/%s: adopted running container %s (%s)", pod.Namespace, pod.Name, name, c.ID)
	}
}

// exited is called when one of the pod's containers ended.
func (w *worker) exited(id string) {
	w.m.watched.Delete(id)
	w.kick()
}

// prepare sets up the pod's network namespace, its IPC namespace and
// /dev/shm, its volumes and its /etc/hosts. A failure is reported on every
// container not yet running.
func (w *worker) prepare(ctx context.Context, pod *v1.Pod) (map[string]podspec.Mount, error) {
	if !pod.Spec.HostNetwork && w.att == nil {
		n, err := w.m.network()
		if err != nil {
			w.holdAll(pod, reasonContainerCreating, fmt.Sprintf("pod network: %v", err))
			return nil, err
		}
		att, err := n.Setup(ctx, podnet.Pod{UID: w.uid, Namespace: pod.Namespace, Name: pod.Name, Ports: hostPorts(pod)})
		if err != nil {
			w.holdAll(pod, reasonContainerCreating, fmt.Sprintf("pod network: %v", err))
			w.m.podEvent(pod, v1.EventTypeWarning, eventFailedSandbox, "Failed to create pod sandbox: %v", err)
			return nil, err
		}
		w.att = &att
	}
	if !pod.Spec.HostIPC && w.ipc == nil {
		p, err := podipc.Setup(w.m.vols.RunDir(w.uid))
		if err != nil {
			w.holdAll(pod, reasonContainerCreating, err.Error())
			w.m.podEvent(pod, v1.EventTypeWarning, eventFailedSandbox, "Failed to create pod sandbox: %v", err)
			return nil, err
		}
		w.ipc = &p
	}
	vols, err := w.m.vols.Setup(pod, w.m.sources(), w.volumeFields(pod))
	if err != nil {
		w.holdAll(pod, reasonConfigError, err.Error())
		w.m.podEvent(pod, v1.EventTypeWarning, eventFailedMount, "MountVolume.SetUp failed: %v", err)
		return nil, err
	}
	mounts := make(map[string]podspec.Mount, len(vols))
	for name, v := range vols {
		mounts[name] = podspec.Mount{HostPath: v.HostPath, ReadOnly: v.ReadOnly}
	}
	if err := w.writeEtcHosts(pod); err != nil {
		w.holdAll(pod, reasonContainerCreating, err.Error())
		return nil, err
	}
	return mounts, nil
}

// holdAll records reason for every container that does not run, and
// logs it when it is news.
func (w *worker) holdAll(pod *v1.Pod, reason, msg string) {
	if cs := allContainers(pod); len(cs) > 0 && w.waiting[cs[0].Name] != (waitingState{Reason: reason, Message: msg}) {
		klog.Warningf("edged: pod %s/%s: %s: %s", pod.Namespace, pod.Name, reason, msg)
	}
	for _, c := range allContainers(pod) {
		w.waiting[c.Name] = waitingState{Reason: reason, Message: msg}
	}
}

func (w *worker) writeEtcHosts(pod *v1.Pod) error {
	path := w.m.podFile(w.uid, "etc-hosts")
	data := podspec.EtcHostsContent(pod, []string{w.podIP()}, "cluster.local")
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	if err := os.MkdirAll(w.m.vols.PodDir(w.uid), 0o750); err != nil {
		return fmt.Errorf("pod directory: %w", err)
	}
	if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
		return fmt.Errorf("/etc/hosts of the pod: %w", err)
	}
	return os.Rename(path+".tmp", path)
}

func (w *worker) podIP() string {
	if w.att == nil || len(w.att.IPs) == 0 {
		return w.m.hostIP()
	}
	return w.att.IPs[0].String()
}

// syncInit runs the init containers one after the other. It returns true
// once all of them completed; otherwise when to look again (0: on the
// next event).
func (w *worker) syncInit(ctx context.Context, pod *v1.Pod, in instances, mounts map[string]podspec.Mount) (time.Duration, bool) {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := in.newest(c.Name)
		if cur != nil && cur.State == containerd.Exited && cur.Exit.Code == 0 && cur.Labels[containerd.LabelHash] == specHash(c) {
			continue
		}
		if cur != nil && cur.State == containerd.Running {
			return 0, false
		}
		return w.syncContainer(ctx, pod, c, true, in, mounts), false
	}
	return 0, true
}

// syncContainer starts the container if it never ran, replaces it when
// its spec changed, and restarts it after an exit when the restart policy
// says so, once its back-off has passed. It returns when to look again
// (0: on the next event).
func (w *worker) syncContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, init bool, in instances, mounts map[string]podspec.Mount) time.Duration {
	cur := in.newest(c.Name)
	attempt := 0
	if cur != nil {
		attempt = cur.Attempt() + 1
		switch cur.State {
		case containerd.Running:
			if cur.Labels[containerd.LabelHash] == specHash(c) {
				delete(w.waiting, c.Name)
				return 0
			}
			klog.Infof("edged: pod %s/%s: container %s changed; replacing it", pod.Namespace, pod.Name, c.Name)
			w.killContainer(ctx, pod, c, cur.ID, whySpecChanged)
			return time.Second
		case containerd.Created:
			// Created but never started: a start that failed half-way.
			if err := w.m.rt.Remove(ctx, cur.ID); err != nil {
				klog.Errorf("edged: pod %s/%s: remove %s: %v", pod.Namespace, pod.Name, cur.ID, err)
			}
		case containerd.Exited:
			if cur.Labels[containerd.LabelHash] == specHash(c) && !shouldRestart(pod.Spec.RestartPolicy, init, cur.Exit) {
				return 0
			}
		}
		if cur.State == containerd.Exited {
			// The kubelet's doBackOff: the first restart is at once, each
			// further one waits twice as long, up to five minutes.
			key := backoffKey(w.uid, c.Name)
			if w.m.backoff.IsInBackOffSince(key, cur.Exit.FinishedAt) {
				delay := w.m.backoff.Get(key)
				w.waiting[c.Name] = waitingState{Reason: reasonCrashLoopBackOff,
					Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, pod.Name, pod.Namespace, w.uid)}
				if w.noteBackOff("crash", c.Name, cur.Exit.FinishedAt) {
					w.m.containerEvent(pod, c, "", v1.EventTypeWarning, eventBackOff, "Back-off restarting failed container %s in pod %s", c.Name, formatPod(pod))
				}
				return max(time.Until(cur.Exit.FinishedAt.Add(delay)), 100*time.Millisecond)
			}
			w.m.backoff.Next(key, cur.Exit.FinishedAt)
		}
	}
	return w.start(ctx, pod, c, init, attempt, mounts)
}

// shouldRestart applies the restart policy to an exited container. Init
// containers are rerun on failure unless the policy is Never.
func shouldRestart(policy v1.RestartPolicy, init bool, e *containerd.Exit) bool {
	switch {
	case e == nil:
		return true
	case policy == v1.RestartPolicyAlways && !init:
		return true
	case policy == v1.RestartPolicyNever:
		return false
	default: // OnFailure, or Always for an init container
		return e.Code != 0
	}
}

func backoffKey(uid, container string) string { return uid + "/" + container }

// start pulls the image and creates and starts one attempt of the
// container. What goes wrong becomes the container's waiting reason.
func (w *worker) start(ctx context.Context, pod *v1.Pod, c *v1.Container, init bool, attempt int, mounts map[string]podspec.Mount) time.Duration {
	img, d, ok := w.pull(ctx, pod, c)
	if !ok {
		return d
	}
	id := newContainerID()
	opts, err := w.specOpts(pod, c, id, img, mounts)
	if err != nil {
		w.waiting[c.Name] = waitingState{Reason: reasonConfigError, Message: err.Error()}
		w.m.containerFailed(pod, c, "", err.Error())
		return 10 * time.Second
	}
	labels := map[string]string{
		containerd.LabelPodUID:        w.uid,
		containerd.LabelPodName:       pod.Name,
		containerd.LabelPodNamespace:  pod.Namespace,
		containerd.LabelContainerName: c.Name,
		containerd.LabelAttempt:       fmt.Sprint(attempt),
		containerd.LabelHash:          specHash(c),
		containerd.LabelInit:          fmt.Sprint(init),
	}
	if err := w.m.rt.Create(ctx, id, img, labels, opts); err != nil {
		w.waiting[c.Name] = waitingState{Reason: reasonCreateError, Message: err.Error()}
		w.m.containerFailed(pod, c, id, err.Error())
		return 10 * time.Second
	}
	log, err := w.m.openLog(pod, c.Name, attempt)
	if err != nil {
		w.waiting[c.Name] = waitingState{Reason: reasonCreateError, Message: err.Error()}
		w.m.containerFailed(pod, c, id, err.Error())
		_ = w.m.rt.Remove(ctx, id)
		return 10 * time.Second
	}
	w.m.containerEvent(pod, c, id, v1.EventTypeNormal, eventCreated, "Created container: %s", c.Name)
	w.m.watched.Store(id, true)
	if err := w.m.rt.Start(ctx, id, log, w.exited); err != nil {
		reason := reasonCreateError
		if init {
			reason = reasonRunInitError
		}
		klog.Warningf("edged: pod %s/%s: container %s: %v", pod.Namespace, pod.Name, c.Name, err)
		w.waiting[c.Name] = waitingState{Reason: reason, Message: err.Error()}
		w.m.containerFailed(pod, c, id, err.Error())
		return time.Second
	}
	delete(w.waiting, c.Name)
	w.m.containerEvent(pod, c, id, v1.EventTypeNormal, eventStarted, "Started container %s", c.Name)
	klog.V(2).Infof("edged: pod %s/%s: container %s started (%s, attempt %d)", pod.Namespace, pod.Name, c.Name, id, attempt)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		w.runHook(ctx, pod, c, id, c.Lifecycle.PostStart, "postStart")
	}
	return 0
}

// pull makes the image present by its pull policy, with the kubelet's
// image back-off: ErrImagePull, then ImagePullBackOff while waiting.
func (w *worker) pull(ctx context.Context, pod *v1.Pod, c *v1.Container) (containerd.Image, time.Duration, bool) {
	key := "pull/" + backoffKey(w.uid, c.Name)
	if prev, ok := w.waiting[c.Name]; ok && (prev.Reason == reasonErrImagePull || prev.Reason == reasonImagePullBackOff) &&
		w.m.backoff.IsInBackOffSinceUpdate(key, time.Now()) {
		w.waiting[c.Name] = waitingState{Reason: reasonImagePullBackOff,
			Message: fmt.Sprintf("Back-off pulling image %q", c.Image)}
		if w.noteBackOff("pull", c.Name, w.pullFailed[c.Name]) {
			w.m.containerEvent(pod, c, "", v1.EventTypeNormal, eventBackOff, "Back-off pulling image %q", c.Image)
			w.m.containerFailed(pod, c, "", reasonImagePullBackOff)
		}
		return containerd.Image{}, time.Second, false
	}
	w.waiting[c.Name] = waitingState{Reason: reasonContainerCreating, Message: fmt.Sprintf("pulling image %q", c.Image)}
	keyring, err := w.m.pullSecrets(pod)
	if err != nil {
		w.waiting[c.Name] = waitingState{Reason: reasonErrImagePull, Message: err.Error()}
		w.m.containerEvent(pod, c, "", v1.EventTypeWarning, eventFailed, "Failed to pull image %q: %v", c.Image, err)
		w.pullFailedNow(pod, c, key)
		return containerd.Image{}, time.Second, false
	}
	img, err := w.ensureImage(ctx, pod, c, keyring)
	switch {
	case errors.Is(err, containerd.ErrNeverPull):
		w.waiting[c.Name] = waitingState{Reason: reasonErrImageNeverPull,
			Message: fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}
		w.m.containerEvent(pod, c, "", v1.EventTypeWarning, eventErrImageNeverPull, "%s", w.waiting[c.Name].Message)
		w.m.containerFailed(pod, c, "", reasonErrImageNeverPull)
		return containerd.Image{}, 10 * time.Second, false
	case err != nil:
		w.waiting[c.Name] = waitingState{Reason: reasonErrImagePull, Message: err.Error()}
		w.pullFailedNow(pod, c, key)
		return containerd.Image{}, time.Second, false
	}
	w.m.backoff.Reset(key)
	return img, 0, true
}
