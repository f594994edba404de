package nodestatus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Bus is what the reporter needs from edgecore's bus.
type Bus interface {
	SendSync(module string, msg model.Message, timeout time.Duration) (model.Message, error)
}

// Config of the reporter.
type Config struct {
	Enable          bool
	NodeName        string
	Namespace       string            // registerNodeNamespace ("default")
	Labels          map[string]string // nodeLabels
	UpdateFrequency time.Duration     // nodeStatusUpdateFrequency (10 s)
	LeaseDuration   time.Duration     // nodeLeaseDurationSeconds (40 s)
	Timeout         time.Duration     // per request (10 s)
	// Target is the module requests go to: metamanager, as edged's bridge.
	Target string
}

func (c *Config) defaults() {
	if c.Namespace == "" {
		c.Namespace = model.DefaultNamespace
	}
	if c.UpdateFrequency <= 0 {
		c.UpdateFrequency = 10 * time.Second
	}
	if c.LeaseDuration <= 0 {
		c.LeaseDuration = 40 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Target == "" {
		c.Target = model.MetaManagerModuleName
	}
}

// Reporter is the "nodestatus" module.
type Reporter struct {
	cfg        Config
	bus        Bus
	registered bool
	leased     bool
	now        func() time.Time
}

// New returns the module.
func New(cfg Config, b Bus) *Reporter {
	cfg.defaults()
	return &Reporter{cfg: cfg, bus: b, now: time.Now}
}

// Name, Group, Enable and RestartPolicy make Reporter a core.Module.
func (r *Reporter) Name() string  { return "nodestatus" }
func (r *Reporter) Group() string { return "nodestatus" }
func (r *Reporter) Enable() bool  { return r.cfg.Enable }
func (r *Reporter) RestartPolicy() *core.RestartPolicy {
	return &core.RestartPolicy{Type: core.RestartOnFailure}
}

// Start registers the node, then patches its status and renews its lease
// every UpdateFrequency until ctx ends. Failures (offline cloud) are logged
// and retried on the next tick; patches made offline are queued by edgehub.
func (r *Reporter) Start(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.UpdateFrequency)
	defer tick.Stop()
	for {
		r.sync()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (r *Reporter) sync() {
	if !r.registered {
		if err := r.Register(); err != nil {
			klog.Warningf("nodestatus: %v", err)
		}
	}
	if err := r.PatchStatus(); err != nil {
		klog.V(2).Infof("nodestatus: %v", err)
	}
	if err := r.RenewLease(); err != nil {
		klog.V(2).Infof("nodestatus: %v", err)
	}
}

func (r *Reporter) request(resource, op string, content any) (model.Message, error) {
	msg := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, resource, op).FillBody(content)
	resp, err := r.bus.SendSync(r.cfg.Target, *msg, r.cfg.Timeout)
	if err != nil {
		return resp, fmt.Errorf("%s %s: %w", op, resource, err)
	}
	if resp.Router.Operation == model.ResponseErrorOperation {
		return resp, fmt.Errorf("%s %s: %v", op, resource, resp.Content)
	}
	return resp, nil
}

// Register inserts the node; AlreadyExists counts as registered.
func (r *Reporter) Register() error {
	resource := model.BuildResource(r.cfg.Namespace, model.ResourceTypeNode, r.cfg.NodeName)
	resp, err := r.request(resource, model.InsertOperation, nodeObject(r.cfg.NodeName, r.cfg.Labels, r.now()))
	if err != nil {
		return fmt.Errorf("register node: %w", err)
	}
	if err := objectRespErr(resp); err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("register node: cloud refused: %w", err)
	}
	r.registered = true
	klog.Infof("nodestatus: node %s registered", r.cfg.NodeName)
	return nil
}

// PatchStatus sends the node status as a strategic-merge patch string.
func (r *Reporter) PatchStatus() error {
	patch, err := json.Marshal(map[string]any{"status": nodeStatus(r.cfg.NodeName, r.now())})
	if err != nil {
		return err
	}
	resource := model.BuildResource(r.cfg.Namespace, model.ResourceTypeNodePatch, r.cfg.NodeName)
	if _, err := r.request(resource, model.PatchOperation, string(patch)); err != nil {
		return fmt.Errorf("patch node status: %w", err)
	}
	return nil
}

// RenewLease creates the lease once, then updates it.
func (r *Reporter) RenewLease() error {
	op := model.InsertOperation
	if r.leased {
		op = model.UpdateOperation
	}
	resource := model.BuildResource(model.NodeLeaseNamespace, model.ResourceTypeLease, r.cfg.NodeName)
	resp, err := r.request(resource, op, leaseObject(r.cfg.NodeName, r.cfg.LeaseDuration, r.now()))
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	if err := objectRespErr(resp); err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("renew lease: %w", err)
	}
	r.leased = true
	return nil
}

// statusError is the part of a metav1.Status we read.
type statusError struct {
	ErrStatus struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
		Code    int    `json:"code"`
	} `json:"ErrStatus"`
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s (%d): %s", e.ErrStatus.Reason, e.ErrStatus.Code, e.ErrStatus.Message)
}

// objectRespErr reads Err of an ObjectResp body ({"Object":…,"Err":…}).
func objectRespErr(resp model.Message) error {
	data, err := resp.ContentData()
	if err != nil {
		return err
	}
	var body struct {
		Err json.RawMessage `json:"Err"`
	}
	if json.Unmarshal(data, &body) != nil || len(body.Err) == 0 || string(body.Err) == "null" {
		return nil
	}
	var se statusError
	if json.Unmarshal(body.Err, &se) != nil || se.ErrStatus.Reason == "" {
		return fmt.Errorf("cloud error: %s", body.Err)
	}
	return &se
}

func isAlreadyExists(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.ErrStatus.Reason == "AlreadyExists"
}
