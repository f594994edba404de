package edged

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edged/podstatus"
	"github.com/edgegate/edgegate/edgecore/edged/volume"
)

// volumeFields are the downward API facts the pod's volumes are written
// with.
func (w *worker) volumeFields(pod *v1.Pod) volume.Fields {
	return volume.Fields{PodIP: w.podIP(), HostIP: w.m.hostIP(), NodeName: pod.Spec.NodeName, Allocatable: w.m.allocatable.get()}
}

// volumesWithoutRuntime sets up the volumes of a pod whose containers
// cannot be looked at (containerd does not answer), as the kubelet's volume
// manager mounts a pod's volumes whatever the runtime does: the pod's
// configmaps, secrets and service account token are fetched, and it starts
// as soon as the runtime is back. A pod that is done gets nothing.
func (w *worker) volumesWithoutRuntime(pod *v1.Pod) {
	if w.evictionMessage() != "" || podstatus.IsTerminal(pod.Status.Phase) {
		return
	}
	if _, err := w.m.vols.Setup(pod, w.m.sources(), w.volumeFields(pod)); err != nil {
		w.holdAll(pod, reasonConfigError, err.Error())
	}
}

// allocatableCache is the node's allocatable resources, read at most once
// a minute.
type allocatableCache struct {
	read func() (v1.ResourceList, error)

	mu   sync.Mutex
	at   time.Time
	last v1.ResourceList
}

const allocatableTTL = time.Minute

// get returns the node's allocatable resources, nil when unknown.
func (c *allocatableCache) get() v1.ResourceList {
	if c.read == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || time.Since(c.at) > allocatableTTL {
		r, err := c.read()
		if err != nil {
			klog.Warningf("edged: node allocatable resources: %v", err)
			return c.last
		}
		c.last, c.at = r, time.Now()
	}
	return c.last
}
