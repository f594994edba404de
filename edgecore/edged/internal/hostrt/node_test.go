package hostrt_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/internal/hostrt"
	"github.com/edgegate/edgegate/edgecore/model"
)

const (
	nodeName  = "host-1"
	namespace = "default"
	// waitLimit bounds every wait for a pod to reach a state: seconds on
	// this host, so a minute means it never will.
	waitLimit = time.Minute
)

// node is edged on the host's containerd, with the cloud double on its
// bus. Stop ends edged and leaves the containers running, as an
// edgecore restart does; start brings a new edged up on the same
// directories and store.
type node struct {
	t     testing.TB
	h     hostrt.Host
	cfg   edged.Config
	cloud *cloud
	rt    *containerd.Runtime // a client of our own, to look at containerd

	bus    *bus.Bus
	ed     *edged.Module
	cancel context.CancelFunc
	done   chan error
}

func newNode(t testing.TB) *node {
	t.Helper()
	return newNodeOn(t, hostrt.Start(t))
}

// newNodeOn is newNode on the runtime h.
func newNodeOn(t testing.TB, h hostrt.Host) *node {
	t.Helper()
	cfg := edged.DefaultConfig()
	cfg.Enable = true
	cfg.NodeName = nodeName
	cfg.Runtime = h.Runtime()
	cfg.Network = h.Network()
	cfg.PodsDir = t.TempDir()
	cfg.LogsDir = t.TempDir()
	// The host's disk is not the gateway's data partition: never collect
	// the test image, however full it is.
	cfg.ImageGCHigh, cfg.ImageGCLow = 100, 100
	rt, err := containerd.Connect(h.Runtime())
	if err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, h: h, cfg: cfg, cloud: newCloud(), rt: rt}
	t.Cleanup(func() {
		n.stop()
		rt.Close()
	})
	n.start()
	return n
}

// start runs a new edged module, which lists the stored pods and adopts
// or collects what containerd runs.
func (n *node) start() {
	n.t.Helper()
	b := bus.New()
	for _, m := range []struct{ name, group string }{
		{model.MetaManagerModuleName, model.MetaGroup}, {model.EdgedModuleName, model.EdgedGroup},
	} {
		b.AddModule(m.name)
		if err := b.AddModuleGroup(m.name, m.group); err != nil {
			n.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.bus, n.cancel, n.done = b, cancel, make(chan error, 1)
	n.ed = edged.New(n.cfg, b)
	go n.cloud.serve(ctx, b)
	go func() { n.done <- n.ed.Start(ctx) }()
}

// stop ends edged (its containers keep running).
func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		n.t.Errorf("edged returned %v", err)
	}
	n.bus.Close()
	n.cancel = nil
}

// bind sends the pod to edged as metamanager forwards the cloud's insert,
// and returns when it was sent.
func (n *node) bind(p *v1.Pod) time.Time {
	n.t.Helper()
	msg := n.cloud.put(p, model.InsertOperation)
	sent := time.Now()
	if err := n.bus.Send(model.EdgedModuleName, *msg); err != nil {
		n.t.Fatal(err)
	}
	return sent
}

// delete is `kubectl delete pod` with a grace period: the cloud marks
// the pod, edged stops it, confirms, and the cloud's delete follows.
func (n *node) delete(name string, grace int64) time.Time {
	n.t.Helper()
	p, ok := n.cloud.pod(name)
	if !ok {
		n.t.Fatalf("pod %s not bound", name)
	}
	now := metav1.Now()
	p.DeletionTimestamp, p.DeletionGracePeriodSeconds = &now, &grace
	if err := n.bus.Send(model.EdgedModuleName, *n.cloud.put(p, model.UpdateOperation)); err != nil {
		n.t.Fatal(err)
	}
	return now.Time
}

// waitPod waits until the cloud's copy of the pod satisfies cond.
func (n *node) waitPod(name, what string, cond func(*v1.Pod) bool) *v1.Pod {
	n.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		p, ok := n.cloud.pod(name)
		if ok && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("pod %s not %s within %s; status: %+v", name, what, waitLimit, p.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until edged forgot the pod and removed everything of
// it: its containers in containerd, its network namespace, its directory
// and its logs (the last step of edged's cleanup).
func (n *node) waitGone(p *v1.Pod) {
	n.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		left := n.leftOf(p)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("pod %s not removed within %s: %v", p.Name, waitLimit, left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leftOf lists what is left of the pod on the node.
func (n *node) leftOf(p *v1.Pod) []string {
	var left []string
	if ctns, err := n.containers(p); err != nil || len(ctns) > 0 {
		left = append(left, fmt.Sprintf("%d containers (%v)", len(ctns), err))
	}
	if n.edgedHas(p.Name) {
		left = append(left, "edged's worker")
	}
	uid := string(p.UID)
	for _, path := range []string{
		filepath.Join(n.cfg.Network.NetNSDir, "edgegate-"+uid),
		filepath.Join(n.cfg.PodsDir, uid),
		containerlog.PodDir(n.cfg.LogsDir, p.Namespace, p.Name, uid),
	} {
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			left = append(left, path)
		}
	}
	return left
}

func (n *node) edgedHas(name string) bool {
	for _, s := range n.ed.Status().Pods {
		if s.Name == name {
			return true
		}
	}
	return false
}

// containers are the pod's containers in containerd.
func (n *node) containers(p *v1.Pod) ([]containerd.Container, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return n.rt.List(ctx, string(p.UID))
}

// newPod is a pod of the test image bound to the node.
func newPod(name string, policy v1.RestartPolicy, containers ...v1.Container) *v1.Pod {
	grace := int64(5)
	return &v1.Pod{
		TypeMeta:   metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: newUID(), ResourceVersion: "1"},
		Spec: v1.PodSpec{
			NodeName: nodeName, RestartPolicy: policy, Containers: containers,
			TerminationGracePeriodSeconds: &grace,
		},
	}
}

// app is a container running podapp with args.
func app(name string, args ...string) v1.Container {
	return v1.Container{Name: name, Image: hostrt.ImageRef, Args: args, ImagePullPolicy: v1.PullIfNotPresent,
		TerminationMessagePolicy: v1.TerminationMessageReadFile}
}

func newUID() types.UID {
	b := make([]byte, 16)
	rand.Read(b)
	return types.UID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
}

func status(p *v1.Pod, container string) v1.ContainerStatus {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container {
			return cs
		}
	}
	return v1.ContainerStatus{}
}
