package edged

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
)

// keepInstances is how many instances of a container stay in containerd:
// the newest and the one before it, whose exit is the lastState.
const keepInstances = 2

// prune removes a pod's container instances older than the last two.
func (w *worker) prune(ctx context.Context, in instances) {
	for _, l := range in {
		for _, c := range l[min(len(l), keepInstances):] {
			if c.State == containerd.Running {
				continue
			}
			if err := w.m.rt.Remove(ctx, c.ID); err != nil {
				klog.Warningf("edged: remove old container %s: %v", c.ID, err)
				continue
			}
			os.Remove(w.m.podFile(w.uid, "termination-"+c.ID))
		}
	}
}

// housekeeping removes what belongs to no wanted pod, and images when
// the data partition fills, every minute.
// The first pass runs as soon as the desired set is known and containerd
// answers, so that a pod deleted while edgecore was down stops now, not
// in a minute.
func (m *Module) housekeeping(ctx context.Context, listed bool) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for first := listed; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		m.tokens.Cleanup() // expired tokens, every minute, as the kubelet's
		if first && !m.awaitRuntime(ctx) {
			return
		}
		if ok, _ := m.Readiness(); !ok && !first {
			continue // the runtime is down: nothing to collect, and it says so already
		}
		if err := m.collectOrphans(ctx); err != nil {
			klog.Warningf("edged: garbage collection: %v", err)
		}
		m.collectImages(ctx)
	}
}

// collectImages is the kubelet's image garbage collection: once the
// filesystem holding containerd's root (the data partition) is fuller
// than ImageGCHigh percent, images no container uses are removed, least
// recently created first, until it is below ImageGCLow. It returns the
// images removed.
func (m *Module) collectImages(ctx context.Context) []string {
	removed, err := m.rt.PruneImages(ctx, m.cfg.Runtime.Root, m.cfg.ImageGCHigh, m.cfg.ImageGCLow)
	if err != nil {
		klog.Warningf("edged: image garbage collection: %v", err)
		m.nodeEvent(v1.EventTypeWarning, eventImageGCFailed, "%v", err)
	}
	for _, ref := range removed {
		klog.Infof("edged: removed unused image %s (data partition above %d%%)", ref, m.cfg.ImageGCHigh)
	}
	return removed
}

// wanted are the UIDs of the pods the node runs.
func (m *Module) wanted() map[string]bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]bool, len(m.workers))
	for _, w := range m.workers {
		out[w.uid] = true
	}
	return out
}

// collectOrphans stops and removes containers, network namespaces, pod
// directories and logs of pods that are not wanted: pods deleted while
// edgecore was down, or left by a crash mid-cleanup. It runs only with
// the desired set known (after the start-up list).
func (m *Module) collectOrphans(ctx context.Context) error {
	wanted := m.wanted()
	lctx, cancel := context.WithTimeout(ctx, runtimeTimeout)
	all, err := m.rt.List(lctx, "")
	cancel()
	if err != nil {
		return err
	}
	for _, c := range all {
		uid := c.Labels[containerd.LabelPodUID]
		if wanted[uid] {
			continue
		}
		if c.State == containerd.Running {
			klog.Infof("edged: stopping container %s of pod %s/%s, which is no longer on this node", c.ID, c.Labels[containerd.LabelPodNamespace], c.Labels[containerd.LabelPodName])
			if err := m.rt.Stop(ctx, c.ID, minGrace); err != nil {
				klog.Warningf("edged: %v", err)
			}
		}
		if err := m.rt.Remove(ctx, c.ID); err != nil {
			klog.Warningf("edged: %v", err)
		}
	}
	if n, err := m.network(); err == nil {
		uids, _ := n.Pods()
		for _, uid := range uids {
			if !wanted[uid] {
				if err := n.Teardown(ctx, uid); err != nil {
					klog.Warningf("edged: release network of pod %s: %v", uid, err)
				}
			}
		}
	}
	if uids, err := m.vols.Pods(); err == nil {
		for _, uid := range uids {
			if !wanted[uid] {
				if err := m.vols.Teardown(uid); err != nil {
					klog.Warningf("edged: remove volumes of pod %s: %v", uid, err)
				}
			}
		}
	}
	m.collectLogs(wanted)
	return nil
}

// collectLogs removes log directories (<ns>_<name>_<uid>) of pods not
// wanted.
func (m *Module) collectLogs(wanted map[string]bool) {
	entries, err := os.ReadDir(m.cfg.LogsDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		parts := strings.Split(e.Name(), "_")
		if len(parts) != 3 || wanted[parts[2]] {
			continue
		}
		if err := containerlog.RemovePod(m.cfg.LogsDir, parts[0], parts[1], parts[2]); err != nil {
			klog.Warningf("edged: remove logs %s: %v", filepath.Join(m.cfg.LogsDir, e.Name()), err)
		}
	}
}
