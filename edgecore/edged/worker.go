package edged

import (
	"context"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/edged/podipc"
	"github.com/edgegate/edgegate/edgecore/edged/podnet"
)

// worker owns one pod: it syncs it whenever something changed (the spec,
// a container exit, a probe result, a configmap) and every Resync, and
// ends once the pod is gone from the node.
type worker struct {
	m   *Module
	uid string

	mu      sync.Mutex
	pod     *v1.Pod // latest desired
	removed bool    // the cloud deleted it
	view    PodSummary
	// evicted is why the pod was evicted ("": it was not); evictionRead
	// once the pod's directory was looked at for an earlier eviction.
	evicted      string
	evictionRead bool

	kickCh chan struct{}

	// Owned by the run goroutine.
	startTime time.Time
	att       *podnet.Attachment
	ipc       *podipc.Paths           // the pod's IPC namespace and /dev/shm
	waiting   map[string]waitingState // by container name: why it is not running
	probes    map[string]*containerProbes
	sent      *v1.PodStatus // last status the cloud accepted
	confirmed bool          // deletion confirmed to the cloud
	torn      bool          // network torn down (terminal pod)
	// pullFailed is when each container's last image pull failed;
	// backOffNoted the back-offs a BackOff event was recorded for.
	pullFailed   map[string]time.Time
	backOffNoted map[string]time.Time
}

// waitingState is a container's waiting reason the runtime cannot tell:
// an image that does not pull, a config that does not resolve.
type waitingState struct {
	Reason, Message string
}

func newWorker(m *Module, p *v1.Pod) *worker {
	w := &worker{
		m: m, uid: string(p.UID), pod: p,
		kickCh:  make(chan struct{}, 1),
		waiting: map[string]waitingState{},
		probes:  map[string]*containerProbes{},

		pullFailed:   map[string]time.Time{},
		backOffNoted: map[string]time.Time{},
	}
	w.view = PodSummary{Namespace: p.Namespace, Name: p.Name, UID: w.uid, Phase: string(v1.PodPending)}
	return w
}

func (w *worker) update(p *v1.Pod) {
	w.mu.Lock()
	w.pod = p
	w.mu.Unlock()
	w.kick()
}

func (w *worker) remove() {
	w.mu.Lock()
	w.removed = true
	w.mu.Unlock()
	w.kick()
}

func (w *worker) kick() {
	select {
	case w.kickCh <- struct{}{}:
	default:
	}
}

func (w *worker) snapshot() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.removed
}

func (w *worker) summary() PodSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.view
	v.ResourceVersion = w.pod.ResourceVersion
	v.Terminating = w.pod.DeletionTimestamp != nil
	return v
}

// run syncs until the pod is gone or ctx ends. Containers are left
// running when ctx ends: edgecore is stopping, the pod is not.
func (w *worker) run(ctx context.Context) {
	defer w.stopProbes()
	for {
		next, gone := w.sync(ctx)
		if gone {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-w.kickCh:
		case <-time.After(next):
		}
	}
}

// sync brings the pod one step closer to what is wanted and reports its
// status. It returns when to look again, or gone once the pod and
// everything of it is removed.
func (w *worker) sync(ctx context.Context) (next time.Duration, gone bool) {
	pod, removed := w.snapshot()
	if removed {
		if err := w.cleanup(ctx, pod); err != nil {
			klog.Errorf("edged: pod %s/%s: cleanup: %v; retrying", pod.Namespace, pod.Name, err)
			return 5 * time.Second, false
		}
		return 0, true
	}
	if pod.DeletionTimestamp != nil {
		return w.terminating(ctx, pod), false
	}
	return w.syncRunning(ctx, pod), false
}
