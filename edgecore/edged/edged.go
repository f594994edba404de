// Package edged is edgecore's edged module as far as this release goes: it
// keeps the desired pod set that metamanager forwards (what the cloud bound
// to this node, after it was persisted) and reports it for inspection. It
// does not run containers, report pod status or send podpatch; the pod
// runtime comes with a later release, and until then the module says so at
// start.
package edged

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/core"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Note is what the module reports about itself, so that nobody reading its
// status takes the pod list for running pods.
const Note = "desired state only: pods are recorded as metamanager forwards them; this release runs no containers and reports no pod status"

// Pod is one desired pod as last received.
type Pod struct {
	Namespace       string          `json:"namespace"`
	Name            string          `json:"name"`
	UID             string          `json:"uid,omitempty"`
	ResourceVersion string          `json:"resourceVersion,omitempty"`
	Operation       string          `json:"operation"` // the message that set it: insert, update or list
	Object          json.RawMessage `json:"object"`    // the v1.Pod as stored
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

// Status is a snapshot of the module.
type Status struct {
	Note     string   `json:"note"`
	Pods     []Pod    `json:"pods"`
	Counters Counters `json:"counters"`
}

// Config is the module's part of the EdgeCore configuration.
type Config struct {
	Enable bool
	// ListTimeout bounds the start-up query for the stored pods (default
	// 10 s).
	ListTimeout time.Duration
}

// Module is the edged module.
type Module struct {
	cfg Config
	bus *bus.Bus

	mu       sync.Mutex
	pods     map[string]Pod // by <ns>/pod/<name>
	counters Counters
}

// New returns the module on b.
func New(cfg Config, b *bus.Bus) *Module {
	if cfg.ListTimeout <= 0 {
		cfg.ListTimeout = 10 * time.Second
	}
	return &Module{cfg: cfg, bus: b, pods: map[string]Pod{}}
}

func (m *Module) Name() string                       { return model.EdgedModuleName }
func (m *Module) Group() string                      { return model.EdgedGroup }
func (m *Module) Enable() bool                       { return m.cfg.Enable }
func (m *Module) RestartPolicy() *core.RestartPolicy { return nil }

// DisabledReason explains a disabled edged.
func (m *Module) DisabledReason() string {
	return "disabled (modules.edged.enable: false); it would record desired pods only, this release runs no containers"
}

// Start lists the stored pods, as KubeEdge's edged does on start, then
// applies what metamanager forwards until ctx ends.
func (m *Module) Start(ctx context.Context) error {
	klog.Warningf("edged: %s", Note)
	if err := m.listStored(); err != nil {
		klog.Errorf("edged: listing stored pods: %v; continuing with forwarded changes only", err)
	}
	for {
		msg, err := m.bus.Receive(ctx, m.Name())
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("edged: receive: %w", err)
		}
		m.Apply(&msg)
	}
}

// listStored asks metamanager for every stored pod and takes the answer as
// the full desired set.
func (m *Module) listStored() error {
	q := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup,
		model.BuildResource("default", model.ResourceTypePod, ""), model.QueryOperation)
	resp, err := m.bus.SendSync(model.MetaManagerModuleName, *q, m.cfg.ListTimeout)
	if err != nil {
		return err
	}
	if resp.Operation() == model.ResponseErrorOperation {
		return fmt.Errorf("metamanager: %v", resp.Content)
	}
	pods, err := podList(&resp)
	if err != nil {
		m.count(func(c *Counters) { c.Malformed++ })
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pods = map[string]Pod{}
	for _, p := range pods {
		p.Operation = "list"
		m.pods[model.BuildResource(p.Namespace, model.ResourceTypePod, p.Name)] = p
	}
	m.counters.List++
	return nil
}

// Apply records one message from the bus: pod insert/update set the
// desired pod, delete removes it; anything else is counted and ignored.
func (m *Module) Apply(msg *model.Message) {
	res, err := model.ParseResource(msg.Resource())
	if err != nil || res.Type != model.ResourceTypePod || res.Name == "" {
		m.count(func(c *Counters) { c.Ignored++ })
		return
	}
	key := res.String()
	switch op := msg.Operation(); op {
	case model.InsertOperation, model.UpdateOperation:
		p, err := podOf(msg)
		if err != nil {
			klog.Errorf("edged: %s %s: %v; ignored", op, key, err)
			m.count(func(c *Counters) { c.Malformed++ })
			return
		}
		p.Operation = op
		m.mu.Lock()
		m.pods[key] = p
		if op == model.InsertOperation {
			m.counters.Insert++
		} else {
			m.counters.Update++
		}
		m.mu.Unlock()
	case model.DeleteOperation:
		m.mu.Lock()
		delete(m.pods, key)
		m.counters.Delete++
		m.mu.Unlock()
	default:
		m.count(func(c *Counters) { c.Ignored++ })
	}
}

// Status returns the desired pods, sorted by namespace and name, and the
// counters.
func (m *Module) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Status{Note: Note, Pods: make([]Pod, 0, len(m.pods)), Counters: m.counters}
	for _, p := range m.pods {
		s.Pods = append(s.Pods, p)
	}
	sort.Slice(s.Pods, func(i, j int) bool {
		if s.Pods[i].Namespace != s.Pods[j].Namespace {
			return s.Pods[i].Namespace < s.Pods[j].Namespace
		}
		return s.Pods[i].Name < s.Pods[j].Name
	})
	return s
}

func (m *Module) count(f func(*Counters)) {
	m.mu.Lock()
	f(&m.counters)
	m.mu.Unlock()
}

// podMeta is the part of a v1.Pod the module reads.
type podMeta struct {
	Metadata struct {
		Namespace       string `json:"namespace"`
		Name            string `json:"name"`
		UID             string `json:"uid"`
		ResourceVersion string `json:"resourceVersion"`
	} `json:"metadata"`
}

func podOf(msg *model.Message) (Pod, error) {
	data, err := msg.ContentData()
	if err != nil {
		return Pod{}, err
	}
	return parsePod(data)
}

func parsePod(data []byte) (Pod, error) {
	var meta podMeta
	if err := json.Unmarshal(data, &meta); err != nil {
		return Pod{}, fmt.Errorf("content is not a pod: %w", err)
	}
	if meta.Metadata.Name == "" {
		return Pod{}, errors.New("content is not a pod: metadata.name is empty")
	}
	md := meta.Metadata
	return Pod{Namespace: md.Namespace, Name: md.Name, UID: md.UID, ResourceVersion: md.ResourceVersion, Object: json.RawMessage(data)}, nil
}

// podList reads metamanager's answer to a list query: a JSON array of
// stored values, each a v1.Pod.
func podList(resp *model.Message) ([]Pod, error) {
	var values []string
	if v, ok := resp.Content.([]string); ok {
		values = v
	} else {
		data, err := resp.ContentData()
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(data, &values); err != nil {
			return nil, fmt.Errorf("pod list: %w", err)
		}
	}
	pods := make([]Pod, 0, len(values))
	for _, v := range values {
		p, err := parsePod([]byte(v))
		if err != nil {
			return nil, fmt.Errorf("pod list: %w", err)
		}
		pods = append(pods, p)
	}
	return pods, nil
}
