// Package edged is edgecore's edged module: a lean kubelet on the gateway's
// containerd. It runs the pods the cloud binds to the node (as metamanager
// forwards and stores them), one network namespace per pod on the CNI
// bridge, no pause container; it reports their status to the cloud with the
// kubelet's status patches and confirms deletions as the kubelet does. The
// pods in the store run again after a restart with the cloud away, and
// containers that outlived edgecore are adopted, not restarted.
package edged

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/events"
	"github.com/edgegate/edgegate/edgecore/edged/podnet"
	"github.com/edgegate/edgegate/edgecore/edged/satoken"
	"github.com/edgegate/edgegate/edgecore/edged/volume"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Config is the module's part of the EdgeCore configuration.
type Config struct {
	Enable   bool
	NodeName string
	NodeIP   string // the node's InternalIP; empty: the first global IPv4
	// ListTimeout bounds the start-up query for the stored pods (10 s).
	ListTimeout time.Duration
	// RequestTimeout bounds a status patch or deletion sent to the cloud.
	RequestTimeout time.Duration
	Runtime        containerd.Settings
	Network        podnet.Config
	// PodsDir holds each pod's volumes and files (kubelet's
	// /var/lib/kubelet/pods), LogsDir the container logs (/var/log/pods):
	// both on the data partition.
	PodsDir string
	LogsDir string
	// PodsRunDir holds what pods keep in memory for this boot: their
	// memory-backed emptyDirs, IPC namespaces and /dev/shm. It must be a
	// shared mount point made before containerd started (edgegate's init
	// makes /run/edgegate/pods so), or containerd would not see them.
	PodsRunDir string
	Logs       containerlog.Limits
	// Resync is how often a pod is looked at without a reason (10 s).
	Resync time.Duration
	// ImageGCHigh and ImageGCLow are the data partition's use, in
	// percent, above which unused images are removed until it is below
	// the low mark (kubelet's imageGCHigh/LowThresholdPercent: 85/80).
	ImageGCHigh, ImageGCLow int
	// Objects reads configmaps and secrets: the local store first, then
	// the cloud (metamanager's client); and asks for service account
	// tokens.
	Objects Objects
	// Allocatable is the node's allocatable resources, as the node status
	// reports them: a memory-backed emptyDir's size defaults to its
	// memory, and a downward API limit the container does not set reads
	// it. nil: unknown.
	Allocatable func() (v1.ResourceList, error)
	// Events are the pods' and the node's events (reportEvent).
	Events events.Config
}

// Objects reads the JSON of <namespace>/<type>/<name>, and asks for a
// service account's token (metamanager.Client).
type Objects interface {
	Get(namespace, resourceType, name string) (string, error)
	ServiceAccountToken(namespace, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error)
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.ListTimeout <= 0 {
		c.ListTimeout = d.ListTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	c.Runtime = c.Runtime.WithDefaults()
	if c.Network.NetNSDir == "" {
		c.Network = d.Network
	}
	if c.PodsDir == "" {
		c.PodsDir = d.PodsDir
	}
	if c.LogsDir == "" {
		c.LogsDir = d.LogsDir
	}
	if c.PodsRunDir == "" {
		c.PodsRunDir = d.PodsRunDir
	}
	if c.Resync <= 0 {
		c.Resync = d.Resync
	}
	if c.ImageGCHigh <= 0 && c.ImageGCLow <= 0 {
		c.ImageGCHigh, c.ImageGCLow = d.ImageGCHigh, d.ImageGCLow
	}
}

// DefaultConfig is the gateway's layout and KubeEdge's kubelet defaults.
func DefaultConfig() Config {
	return Config{
		ListTimeout:    10 * time.Second,
		RequestTimeout: 10 * time.Second,
		Runtime:        containerd.DefaultSettings(),
		Network: podnet.Config{
			NetNSDir:    "/run/netns",
			CNIConfDir:  "/run/edgegate/cni",
			CNIBinDirs:  []string{"/usr/libexec/cni"},
			CNICacheDir: "/run/edgegate/cni-cache",
			NetworkName: "edgegate",
			Table:       "edgegate-hostports",
		},
		PodsDir:     "/var/lib/edgegate/pods",
		LogsDir:     "/var/log/pods",
		PodsRunDir:  "/run/edgegate/pods",
		Resync:      10 * time.Second,
		ImageGCHigh: 85,
		ImageGCLow:  80,
	}
}

// Module is the edged module.
type Module struct {
	cfg  Config
	bus  *bus.Bus
	rt   *containerd.Runtime
	net  *podnet.Network
	vols volume.Manager
	// tokens are the service account tokens projected into pods.
	tokens      *satoken.Manager
	allocatable *allocatableCache
	// backoff is the crash-loop delay per container (kubelet: 10 s
	// doubling to 5 min, forgotten after 10 min of quiet).
	backoff *flowcontrol.Backoff
	events  *events.Recorder
	// cgroup2: the node's cgroup hierarchy is the unified one (a
	// gateway's); else v1, where containers get no cgroup2-only settings.
	cgroup2 bool

	// running counts the workers' goroutines, removed ones included.
	running sync.WaitGroup
	// watched are the containers whose output and exit this process
	// follows: started here, or adopted after an edgecore restart.
	watched sync.Map

	// gate holds pods and garbage collection back while containerd
	// does not answer; readyKick asks watchReadiness to look again
	// (containerd just answered).
	gate      *runtimeGate
	readyKick chan struct{}

	mu       sync.Mutex
	workers  map[string]*worker // by pod key <ns>/pod/<name>
	counters Counters
	ready    error // why pods cannot run (nil: they can)
	ctx      context.Context
}

// Counters count the messages the module received, by what they were.
type Counters struct {
	Insert    uint64 `json:"insert"`
	Update    uint64 `json:"update"`
	Delete    uint64 `json:"delete"`
	List      uint64 `json:"list"`      // full pod sets (the start-up list)
	Ignored   uint64 `json:"ignored"`   // other resources and operations
	Malformed uint64 `json:"malformed"` // pod messages whose content is not a pod
}

// New returns the module on b.
func New(cfg Config, b *bus.Bus) *Module {
	cfg.defaults()
	cfg.Events.NodeName = cfg.NodeName
	m := &Module{
		cfg: cfg, bus: b,
		vols:    volume.Manager{Root: cfg.PodsDir, RunRoot: cfg.PodsRunDir},
		backoff: flowcontrol.NewBackOff(10*time.Second, 5*time.Minute),
		events:  events.New(cfg.Events, eventSink(b)),
		cgroup2: cgroupV2(cgroupRoot),
		workers: map[string]*worker{},
		ready:   errors.New("container runtime not checked yet"),

		tokens:      satoken.New(tokenFetcher(cfg.Objects)),
		allocatable: &allocatableCache{read: cfg.Allocatable},
		readyKick:   make(chan struct{}, 1),
	}
	m.gate = newRuntimeGate(m.runtimeAnswers, m.kickReadiness)
	return m
}

// SetCloudConnected tells edged how to learn whether the cloud is
// reachable (metamanager's view): events wait for it. Call before Start.
func (m *Module) SetCloudConnected(connected func() bool) { m.events.SetOnline(connected) }

func (m *Module) Name() string                       { return model.EdgedModuleName }
func (m *Module) Group() string                      { return model.EdgedGroup }
func (m *Module) Enable() bool                       { return m.cfg.Enable }
func (m *Module) RestartPolicy() *core.RestartPolicy { return nil }

// DisabledReason explains a disabled edged.
func (m *Module) DisabledReason() string {
	return "disabled (modules.edged.enable: false): pods bound to this node are not run"
}

// Start connects to containerd and the pod network, takes the stored pods
// as the desired set (KubeEdge's start-up list), adopts or removes what
// containerd already runs, then applies what metamanager forwards until
// ctx ends. Containers keep running when edgecore stops: the next start
// adopts them. containerd may not answer yet (edgecore starts with it):
// the pods and the first garbage collection wait for it (runtimeGate)
// and the node is not ready until it answers.
func (m *Module) Start(ctx context.Context) error {
	rt, err := containerd.Connect(m.cfg.Runtime)
	if err != nil {
		return fmt.Errorf("edged: %w", err)
	}
	defer rt.Close()
	m.rt = rt
	m.mu.Lock()
	m.ctx = ctx
	m.mu.Unlock()
	m.network() // set up now if it can be; pods wait for it otherwise
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(2)
	go func() { defer wg.Done(); m.events.Run(ctx) }()
	m.nodeEvent(v1.EventTypeNormal, eventNodeStarting, "Starting kubelet.")
	go func() { defer wg.Done(); m.watchReadiness(ctx) }()
	wg.Add(1)
	go func() { defer wg.Done(); m.evictionLoop(ctx) }()

	listed := true
	if err := m.listStoredCtx(ctx); err != nil {
		// Without the desired set nothing may be collected: a container
		// of a pod the store holds would look orphaned.
		listed = false
		klog.Errorf("edged: listing stored pods: %v; continuing with forwarded changes only", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); m.housekeeping(ctx, listed) }()
	for {
		msg, err := m.bus.Receive(ctx, m.Name())
		if err != nil {
			m.stopWorkers()
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("edged: receive: %w", err)
		}
		m.Apply(&msg)
	}
}

// listStoredCtx is listStored, given up when ctx ends first (the bus
// call has its own timeout but does not watch ctx; it ends when the bus
// closes).
func (m *Module) listStoredCtx(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- m.listStored() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listStored asks metamanager for every stored pod and takes the pods
// bound to this node as the full desired set.
func (m *Module) listStored() error {
	q := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup,
		model.BuildResource(model.DefaultNamespace, model.ResourceTypePod, ""), model.QueryOperation)
	resp, err := m.bus.SendSync(model.MetaManagerModuleName, *q, m.cfg.ListTimeout)
	if err != nil {
		return err
	}
	if resp.Operation() == model.ResponseErrorOperation {
		return fmt.Errorf("metamanager: %s", resp.ContentText())
	}
	pods, bad := podList(&resp)
	for _, err := range bad {
		m.count(func(c *Counters) { c.Malformed++ })
		klog.Errorf("edged: stored pod: %v", err)
	}
	m.count(func(c *Counters) { c.List++ })
	for _, p := range pods {
		if m.cfg.NodeName != "" && p.Spec.NodeName != m.cfg.NodeName {
			continue
		}
		m.upsert(p)
	}
	return nil
}

// Apply takes one message from the bus: pod insert/update set the desired
// pod, delete removes it; configmap and secret changes refresh the pods'
// volumes; anything else is counted and ignored.
func (m *Module) Apply(msg *model.Message) {
	res, err := model.ParseResource(msg.Resource())
	if err != nil {
		m.count(func(c *Counters) { c.Ignored++ })
		return
	}
	switch {
	case res.Type == model.ResourceTypeConfigmap || res.Type == model.ResourceTypeSecret:
		m.kickAll()
		m.count(func(c *Counters) { c.Ignored++ })
		return
	case res.Type != model.ResourceTypePod || res.Name == "":
		m.count(func(c *Counters) { c.Ignored++ })
		return
	}
	switch op := msg.Operation(); op {
	case model.InsertOperation, model.UpdateOperation:
		pod, err := podOf(msg)
		if err != nil {
			klog.Errorf("edged: %s %s: %v; ignored", op, res, err)
			m.count(func(c *Counters) { c.Malformed++ })
			return
		}
		m.count(func(c *Counters) {
			if op == model.InsertOperation {
				c.Insert++
			} else {
				c.Update++
			}
		})
		m.upsert(pod)
	case model.DeleteOperation:
		m.count(func(c *Counters) { c.Delete++ })
		m.remove(res.String(), uidOf(msg))
	default:
		m.count(func(c *Counters) { c.Ignored++ })
	}
}

// upsert hands the pod to its worker, starting one for a new pod. A pod
// of the same name with another UID is a new pod: the old one is removed.
func (m *Module) upsert(p *v1.Pod) {
	key := podKey(p)
	m.mu.Lock()
	defer m.mu.Unlock()
	if w, ok := m.workers[key]; ok {
		if w.uid == string(p.UID) {
			w.update(p)
			return
		}
		w.remove()
		delete(m.workers, key)
	}
	w := newWorker(m, p)
	m.workers[key] = w
	if m.ctx != nil {
		m.running.Add(1)
		go func() { defer m.running.Done(); w.run(m.ctx) }()
	}
}

// remove ends the pod: the cloud deleted it. uid, when known, must match.
func (m *Module) remove(key, uid string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w, ok := m.workers[key]
	if !ok || (uid != "" && w.uid != uid) {
		return
	}
	w.remove()
	delete(m.workers, key)
}

func (m *Module) kickAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, w := range m.workers {
		w.kick()
	}
}

// stopWorkers waits for the pod workers after ctx ended; they leave the
// containers running.
func (m *Module) stopWorkers() { m.running.Wait() }

func (m *Module) count(f func(*Counters)) {
	m.mu.Lock()
	f(&m.counters)
	m.mu.Unlock()
}

// Readiness is the node's Ready condition as far as pods go: containerd
// answers and the pod network is set up.
func (m *Module) Readiness() (bool, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ready != nil {
		return false, m.ready.Error()
	}
	return true, ""
}

// watchReadiness checks containerd and the pod network every few
// seconds, and at once when containerd just answered.
func (m *Module) watchReadiness(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		err := m.checkReady(ctx)
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		was := m.ready
		m.ready = err
		m.mu.Unlock()
		switch {
		case err != nil && (was == nil || was.Error() != err.Error()):
			klog.Warningf("edged: not ready: %v", err)
			if was == nil {
				m.nodeStatusEvent(eventNodeNotReady)
			}
		case err == nil && was != nil:
			klog.Infof("edged: ready: containerd answers and the pod network is set up")
			m.nodeStatusEvent(eventNodeReady)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.readyKick:
		}
	}
}

func (m *Module) kickReadiness() {
	select {
	case m.readyKick <- struct{}{}:
	default:
	}
}

func (m *Module) checkReady(ctx context.Context) error {
	if err := m.runtimeAnswers(ctx); err != nil {
		return err
	}
	n, err := m.network()
	if err == nil {
		err = n.Ready()
	}
	if err != nil {
		return fmt.Errorf("container runtime network not ready: %w", err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// network is the pod network, set up on first use that succeeds: at
// start init may not have written the CNI configuration yet.
func (m *Module) network() (*podnet.Network, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.net != nil {
		return m.net, nil
	}
	n, err := podnet.New(m.cfg.Network)
	if err != nil {
		return nil, err
	}
	m.net = n
	return n, nil
}

// PodSummary is one pod as the inspect endpoint shows it.
type PodSummary struct {
	Namespace       string `json:"namespace"`
	Name            string `json:"name"`
	UID             string `json:"uid"`
	ResourceVersion string `json:"resourceVersion"`
	Terminating     bool   `json:"terminating,omitempty"`
	Phase           string `json:"phase"`
	PodIP           string `json:"podIP,omitempty"`
	Ready           bool   `json:"ready"`
	Restarts        int32  `json:"restarts"`
}

// Status is a snapshot of the module.
type Status struct {
	Ready    string       `json:"ready"`
	Pods     []PodSummary `json:"pods"`
	Counters Counters     `json:"counters"`
	Events   events.Stats `json:"events"`
}

// Status returns the pods, sorted by namespace and name, and the counters.
func (m *Module) Status() Status {
	m.mu.Lock()
	ws := make([]*worker, 0, len(m.workers))
	for _, w := range m.workers {
		ws = append(ws, w)
	}
	s := Status{Ready: "ready", Counters: m.counters, Pods: []PodSummary{}, Events: m.events.Stats()}
	if m.ready != nil {
		s.Ready = m.ready.Error()
	}
	m.mu.Unlock()
	for _, w := range ws {
		s.Pods = append(s.Pods, w.summary())
	}
	sort.Slice(s.Pods, func(i, j int) bool {
		if s.Pods[i].Namespace != s.Pods[j].Namespace {
			return s.Pods[i].Namespace < s.Pods[j].Namespace
		}
		return s.Pods[i].Name < s.Pods[j].Name
	})
	return s
}

func podKey(p *v1.Pod) string {
	return model.BuildResource(p.Namespace, model.ResourceTypePod, p.Name)
}

// podFile is a file of the pod's own (etc-hosts, termination logs).
func (m *Module) podFile(uid string, name ...string) string {
	return filepath.Join(append([]string{m.vols.PodDir(uid)}, name...)...)
}
