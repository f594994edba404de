package edged

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edged/podstatus"
	"github.com/edgegate/edgegate/edgecore/edged/volume"
)

// The kubelet's eviction of a pod whose disk emptyDir outgrew its
// sizeLimit (eviction manager, localStorageEviction): checked every
// evictionPeriod (its monitoring period); the pod's containers are killed
// with a one-second grace period (minGrace applies), it turns Failed with
// reason Evicted and the message below, a Warning event says the same, and
// nothing of it starts again. The pod stays until the cloud deletes it (a
// controller replaces it). A memory-backed emptyDir cannot outgrow its
// sizeLimit: its tmpfs is no bigger.
const (
	evictionPeriod     = 10 * time.Second
	reasonEvicted      = "Evicted"
	emptyDirMessageFmt = "Usage of EmptyDir volume %q exceeds the limit %q. "
	evictionGrace      = int64(1)
	whyEvicted         = "pod evicted"
	whyDone            = "pod is done"
	// evictedFile, in the pod's directory, keeps the eviction across an
	// edgecore restart: until the cloud has the pod's Failed status back,
	// the stored pod does not say it.
	evictedFile = "evicted"
)

// emptyDirOverLimit is the kubelet's emptyDirLimitEviction check: the
// eviction message for the first disk emptyDir of pod whose usage (read
// by usage, by volume name) is above its positive sizeLimit, or "". A
// volume whose usage cannot be read is passed over.
func emptyDirOverLimit(pod *v1.Pod, usage func(volume string) (int64, error)) string {
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		src := vol.EmptyDir
		if src == nil || src.Medium == v1.StorageMediumMemory || src.SizeLimit == nil || src.SizeLimit.Sign() != 1 {
			continue
		}
		used, err := usage(vol.Name)
		if err != nil {
			klog.V(2).Infof("edged: pod %s/%s: usage of emptyDir %s: %v", pod.Namespace, pod.Name, vol.Name, err)
			continue
		}
		if used > src.SizeLimit.Value() {
			return fmt.Sprintf(emptyDirMessageFmt, vol.Name, src.SizeLimit.String())
		}
	}
	return ""
}

// evictionLoop checks the pods' emptyDirs every evictionPeriod until ctx
// ends.
func (m *Module) evictionLoop(ctx context.Context) {
	t := time.NewTicker(evictionPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		ws := make([]*worker, 0, len(m.workers))
		for _, w := range m.workers {
			ws = append(ws, w)
		}
		m.mu.Unlock()
		for _, w := range ws {
			w.checkEmptyDirs()
		}
	}
}

// checkEmptyDirs evicts the pod when one of its emptyDirs is over its
// sizeLimit; a pod being deleted, or done, is left alone.
func (w *worker) checkEmptyDirs() {
	pod, removed := w.snapshot()
	if removed || pod.DeletionTimestamp != nil || w.evictionMessage() != "" || podstatus.IsTerminal(pod.Status.Phase) {
		return
	}
	msg := emptyDirOverLimit(pod, func(name string) (int64, error) {
		return volume.DiskUsage(w.m.vols.EmptyDirPath(w.uid, name))
	})
	if msg == "" {
		return
	}
	klog.Warningf("edged: pod %s/%s: evicted: %s", pod.Namespace, pod.Name, msg)
	w.m.podEvent(pod, v1.EventTypeWarning, reasonEvicted, "%s", msg)
	w.evict(msg)
}

// evict marks the pod evicted with msg, on disk too, and wakes its worker.
func (w *worker) evict(msg string) {
	if err := os.WriteFile(w.m.podFile(w.uid, evictedFile), []byte(msg), 0o644); err != nil {
		klog.Warningf("edged: pod %s: the eviction will not survive a restart: %v", w.uid, err)
	}
	w.mu.Lock()
	w.evicted = msg
	w.mu.Unlock()
	w.kick()
}

// evictionMessage is why the pod was evicted, "" if it was not. A worker
// started after an edgecore restart reads it from the pod's directory.
func (w *worker) evictionMessage() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.evictionRead {
		w.evictionRead = true
		data, err := os.ReadFile(w.m.podFile(w.uid, evictedFile))
		switch {
		case err == nil && w.evicted == "":
			w.evicted = string(data)
		case err != nil && !errors.Is(err, os.ErrNotExist):
			klog.Warningf("edged: pod %s: %v", w.uid, err)
		}
	}
	return w.evicted
}

// stopEvicted kills the running containers of an evicted pod with the
// eviction's grace period, and reports whether it killed any.
func (w *worker) stopEvicted(ctx context.Context, pod *v1.Pod, in instances) bool {
	p := pod.DeepCopy()
	grace := evictionGrace
	p.DeletionGracePeriodSeconds = &grace
	return w.stopRunning(ctx, p, in, whyEvicted)
}

// done reports whether the pod will run nothing again although its
// containers would: it was evicted, or the cloud has it Succeeded or
// Failed (the kubelet's rule that a terminal phase is final).
func (w *worker) done(pod *v1.Pod) bool {
	return w.evictionMessage() != "" || podstatus.IsTerminal(pod.Status.Phase)
}

// stopForGood stops what still runs of a pod that is done (evicted: with
// the eviction's grace period) and returns its containers as they are
// then.
func (w *worker) stopForGood(ctx context.Context, pod *v1.Pod, in instances) instances {
	var stopped bool
	if w.evictionMessage() != "" {
		stopped = w.stopEvicted(ctx, pod, in)
	} else {
		stopped = w.stopRunning(ctx, pod, in, whyDone)
	}
	if !stopped {
		return in
	}
	now, err := w.m.podInstances(ctx, w.uid)
	if err != nil {
		return in
	}
	return now
}
