// Package nodestatus registers the edge node with the cloud and keeps it
// alive there the way KubeEdge's edged (the kubelet behind its client
// bridge) does: an insert of default/node/<node> once the cloud link is up
// (AlreadyExists means: get it and take it over), a strategic-merge patch
// of default/nodepatch/<node> when the status changed or
// nodeStatusReportFrequency passed, and the node Lease in kube-node-lease
// renewed every quarter of its duration with the resourceVersion the cloud
// last returned. Requests go through metamanager, source "edged", group
// "meta", exactly as KubeEdge's bridge builds them, with
// k8s.io/api types on both ends.
package nodestatus

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/edgehub/link"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Config of the reporter.
type Config struct {
	Enable          bool
	NodeName        string
	Namespace       string            // registerNodeNamespace ("default")
	Labels          map[string]string // nodeLabels
	NodeIP          string            // nodeIP; empty: first global IPv4
	MaxPods         int64             // maxPods (110)
	UpdateFrequency time.Duration     // nodeStatusUpdateFrequency (10 s)
	ReportFrequency time.Duration     // nodeStatusReportFrequency (5 m)
	LeaseDuration   time.Duration     // nodeLeaseDurationSeconds (40 s)
	Eviction        *Eviction         // evictionHard; nil: DefaultEviction
	Timeout         time.Duration     // per request (10 s)
	Machine         Machine
	// Runtime returns containerRuntimeVersion ("containerd://2.4.2");
	// nil reports "remote://".
	Runtime func() string
	// Readiness decides the Ready condition; nil: always ready.
	Readiness Readiness
	// Target is the module requests go to: metamanager, as edged's bridge.
	Target string
	// StoreResetFor is how long the StoreReset condition stays True once
	// the cloud has it (DefaultStoreResetFor).
	StoreResetFor time.Duration
}

func (c *Config) defaults() {
	if c.Namespace == "" {
		c.Namespace = model.DefaultNamespace
	}
	if c.MaxPods <= 0 {
		c.MaxPods = 110
	}
	if c.UpdateFrequency <= 0 {
		c.UpdateFrequency = 10 * time.Second
	}
	if c.ReportFrequency <= 0 {
		c.ReportFrequency = 5 * time.Minute
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 40 * time.Second
	}
	if c.Eviction == nil {
		e := DefaultEviction()
		c.Eviction = &e
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Runtime == nil {
		c.Runtime = func() string { return "remote://" }
	}
	if c.Readiness == nil {
		c.Readiness = AlwaysReady
	}
	if c.Target == "" {
		c.Target = model.MetaManagerModuleName
	}
}

// Registration backoff, as the kubelet's (100 ms doubling to 7 s); while
// the link is down edgecore answers at once and locally, so those retries
// are capped at offlineRetry to register within moments of connecting.
const (
	registerMin  = 100 * time.Millisecond
	registerMax  = 7 * time.Second
	offlineRetry = 500 * time.Millisecond
)

// Reporter is the "nodestatus" module.
type Reporter struct {
	cfg     Config
	bus     Bus
	client  client
	builder *nodeBuilder
	lease   *leaseKeeper
	now     func() time.Time
	// linkUp is signalled when edgehub announces the cloud link, so a
	// registration waiting for it goes out at once.
	linkUp chan struct{}

	// node is the node as the cloud last returned it: what status
	// patches are computed against. nil until registered.
	node       *v1.Node
	lastReport time.Time
}

// New returns the module.
func New(cfg Config, b Bus) *Reporter {
	cfg.defaults()
	c := client{bus: b, target: cfg.Target, timeout: cfg.Timeout}
	return &Reporter{
		cfg:    cfg,
		bus:    b,
		linkUp: make(chan struct{}, 1),
		client: c,
		builder: &nodeBuilder{
			name: cfg.NodeName, labels: cfg.Labels, nodeIP: cfg.NodeIP, maxPods: cfg.MaxPods, board: cfg.Machine.Board(),
			eviction: *cfg.Eviction, runtime: cfg.Runtime, readiness: cfg.Readiness, storeResetFor: cfg.StoreResetFor,
		},
		lease: &leaseKeeper{client: c, node: cfg.NodeName, duration: cfg.LeaseDuration},
		now:   time.Now,
	}
}

// Name, Group, Enable and RestartPolicy make Reporter a core.Module.
func (r *Reporter) Name() string  { return "nodestatus" }
func (r *Reporter) Group() string { return model.NodeStatusGroup }
func (r *Reporter) Enable() bool  { return r.cfg.Enable }
func (r *Reporter) RestartPolicy() *core.RestartPolicy {
	return &core.RestartPolicy{Type: core.RestartOnFailure}
}

// Start registers the node, then updates its status every UpdateFrequency
// and renews its lease every quarter of the lease duration, until ctx ends.
// Nothing is patched before the cloud confirmed the node exists.
func (r *Reporter) Start(ctx context.Context) error {
	go r.watchLink(ctx)
	if !r.register(ctx) {
		return nil
	}
	statusTick := time.NewTicker(r.cfg.UpdateFrequency)
	defer statusTick.Stop()
	leaseTick := time.NewTicker(r.cfg.LeaseDuration / 4)
	defer leaseTick.Stop()
	r.renewLease()
	r.updateStatus()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-statusTick.C:
			if r.node == nil && !r.register(ctx) {
				return nil
			}
			r.updateStatus()
		case <-leaseTick.C:
			if r.node != nil {
				r.renewLease()
			}
		}
	}
}

// register tries until the node is registered or ctx ends.
func (r *Reporter) register(ctx context.Context) bool {
	bo := link.Backoff{Min: registerMin, Max: registerMax}
	for {
		err := r.tryRegister()
		if err == nil {
			return true
		}
		wait := bo.Next()
		if IsLocal(err) {
			wait = min(wait, offlineRetry)
		}
		r.report("register node", err)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		case <-r.linkUp:
		}
	}
}

// watchLink reads the reporter's messages from the bus: edgehub's link
// announcements.
func (r *Reporter) watchLink(ctx context.Context) {
	for {
		msg, err := r.bus.Receive(ctx, r.Name())
		if err != nil {
			return
		}
		if state, _ := msg.ContentString(); msg.Resource() == model.ResourceTypeNodeConnection && state == model.CloudConnected {
			select {
			case r.linkUp <- struct{}{}:
			default:
			}
		}
	}
}

// tryRegister creates the node; when the cloud already has it (a restart,
// a reflashed gateway with the same name), it takes the cloud's copy, whose
// status and labels the next update brings up to date.
func (r *Reporter) tryRegister() error {
	facts, err := r.cfg.Machine.Facts()
	if err != nil {
		return err
	}
	resource := model.BuildResource(r.cfg.Namespace, model.ResourceTypeNode, r.cfg.NodeName)
	created := &v1.Node{}
	err = r.client.do(resource, model.InsertOperation, r.builder.Node(facts, r.now()), created)
	switch {
	case err == nil && created.Name != "":
		// Created with its full status: the next report is due when
		// something changes or the report frequency passes.
		r.registered(created, "registered", r.now())
		return nil
	case err == nil:
		return fmt.Errorf("create node %s: the cloud answered without the node", r.cfg.NodeName)
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("create node %s: %w", r.cfg.NodeName, err)
	}
	existing := &v1.Node{}
	if err := r.client.do(resource, model.QueryOperation, nil, existing); err != nil {
		return fmt.Errorf("node %s exists; get it: %w", r.cfg.NodeName, err)
	}
	if existing.Name == "" {
		return fmt.Errorf("node %s exists, but the cloud answered the get without it", r.cfg.NodeName)
	}
	// The cloud's copy is stale: report at once, as the kubelet does
	// after registering.
	r.registered(existing, "already registered in the cloud; taking it over", time.Time{})
	return nil
}

// registered takes n as the node the cloud holds, last reported at
// reported.
func (r *Reporter) registered(n *v1.Node, how string, reported time.Time) {
	r.node, r.lastReport = n, reported
	klog.Infof("nodestatus: node %s %s (uid %s)", n.Name, how, n.UID)
}

// updateStatus measures, and patches the node when its status changed or
// the report frequency passed.
func (r *Reporter) updateStatus() {
	facts, err := r.cfg.Machine.Facts()
	if err != nil {
		r.report("measure node", err)
		return
	}
	now := r.now()
	updated := r.node.DeepCopy()
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	for k, v := range r.builder.Labels() {
		updated.Labels[k] = v
	}
	updated.Status = mergeStatus(r.node.Status, r.builder.Status(facts, &r.node.Status, now))
	if !statusChanged(r.node, updated) && now.Sub(r.lastReport) < r.cfg.ReportFrequency {
		return
	}
	patch, err := statusPatch(r.node, updated)
	if err != nil {
		r.report("patch node status", err)
		return
	}
	resource := model.BuildResource(r.cfg.Namespace, model.ResourceTypeNodePatch, r.cfg.NodeName)
	patched := &v1.Node{}
	err = r.client.do(resource, model.PatchOperation, string(patch), patched)
	if apierrors.IsNotFound(err) {
		// The node was deleted in the cloud: register it again.
		klog.Warningf("nodestatus: node %s no longer exists in the cloud; registering it again", r.cfg.NodeName)
		r.node = nil
		return
	}
	if err != nil {
		r.report("patch node status", err)
		return
	}
	if patched.Name != "" {
		r.node = patched
	}
	r.lastReport = now
}

func (r *Reporter) renewLease() {
	if err := r.lease.renew(r.node, r.now()); err != nil {
		r.report("node lease", err)
	}
}

// report logs a failure: at the default level when the cloud refused or
// the node could not be measured, which an operator must see, and quietly
// while edgecore has no link (it retries on its own).
func (r *Reporter) report(what string, err error) {
	var status apierrors.APIStatus
	refused := errors.As(err, &status)
	switch {
	case IsLocal(err):
		klog.V(2).Infof("nodestatus: %s: %v (will retry)", what, err)
	case refused:
		klog.Warningf("nodestatus: %s: refused by the cloud: %v", what, err)
	default:
		klog.Warningf("nodestatus: %s: %v", what, err)
	}
}
