// Package events records what edged does to pods and to the node as
// Kubernetes events, in the kubelet's reasons and words (Pulling, Failed,
// BackOff, Created, Started, Killing, Unhealthy, NodeReady, …), and sends
// them to the cloud as KubeEdge's edged does when modules.edged.reportEvent
// is true: inserts and patches of <namespace>/event/<name> through
// metamanager, which passes them straight to the cloud.
//
// Events are correlated as the kubelet's recorder does: a repeat raises
// the count and lastTimestamp of the same event object (a patch), ten
// similar events within ten minutes become one combined event, and one
// object may burst 25 events, then one per five minutes. Sending is rate
// limited (eventRecordQPS, eventBurst). While the cloud is away events
// wait in a queue bounded in bytes; a repeat of a waiting event replaces
// it, and past the bound the oldest are dropped and counted. Events are
// best effort, as in Kubernetes: nothing of them survives a restart.
package events

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Config is the recorder's part of modules.edged.
type Config struct {
	// Enable is modules.edged.reportEvent: send events to the cloud.
	// Disabled, events are only logged (at verbosity 3, as the kubelet).
	Enable bool
	// NodeName is the events' source host and reporting instance.
	NodeName string
	// QPS and Burst bound the writes sent to the cloud (the kubelet's
	// eventRecordQPS, 50, and eventBurst, 100); QPS 0 is no limit.
	QPS   float64
	Burst int
	// QueueBytes bounds the events waiting for the cloud (256 KiB).
	QueueBytes int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// DefaultQueueBytes holds a few hundred events: an outage's worth of what
// one gateway's pods say, without letting it take the gateway's memory.
const DefaultQueueBytes = 256 << 10

// component is the events' source, as for every kubelet: KubeEdge's edged
// is one.
const component = "kubelet"

// maxMessage bounds an event's message, as events.k8s.io does its note:
// error texts from registries can be long.
const maxMessage = 1024

// seriesTTL is the API server's default --event-ttl: an event not written
// for that long is gone, and its next occurrence is created again.
const seriesTTL = time.Hour

// Sink takes a write for the cloud (edged: a message to metamanager). It
// may block while the receiver is busy; an error leaves the write queued.
type Sink func(Write) error

// Stats count what became of the recorded events.
type Stats struct {
	Recorded     uint64 `json:"recorded"`     // events edged recorded
	Filtered     uint64 `json:"filtered"`     // held back by the per-object limit
	Sent         uint64 `json:"sent"`         // writes handed to metamanager
	Dropped      uint64 `json:"dropped"`      // writes dropped, oldest first, while the cloud was away
	Pending      int    `json:"pending"`      // writes waiting for the cloud
	PendingBytes int    `json:"pendingBytes"` // their size
}

// Recorder records events and, enabled, sends them through a Sink.
type Recorder struct {
	cfg     Config
	sink    Sink
	limiter *rate.Limiter
	wake    chan struct{}

	mu         sync.Mutex
	online     func() bool
	corr       *correlator
	queue      *queue
	stats      Stats
	lastDropAt time.Time // when a drop was last logged
	lastName   int64     // the time in the last event name, in ns
}

// New returns a recorder sending through sink. online says whether the
// cloud is reachable; it may be set later with SetOnline.
func New(cfg Config, sink Sink) *Recorder {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	limit := rate.Limit(cfg.QPS)
	if cfg.QPS <= 0 {
		limit = rate.Inf
	}
	return &Recorder{
		cfg: cfg, sink: sink,
		limiter: rate.NewLimiter(limit, max(cfg.Burst, 1)),
		wake:    make(chan struct{}, 1),
		online:  func() bool { return true },
		corr:    newCorrelator(),
		queue:   newQueue(cfg.QueueBytes),
	}
}

// SetOnline sets how the recorder learns that the cloud is reachable:
// events wait while it is not, rather than crowd the link's own outbox.
func (r *Recorder) SetOnline(online func() bool) {
	r.mu.Lock()
	r.online = online
	r.mu.Unlock()
}

// Eventf records an event about ref: type v1.EventTypeNormal or
// v1.EventTypeWarning, a reason in CamelCase and a message. It does not
// block.
func (r *Recorder) Eventf(ref *v1.ObjectReference, eventType, reason, format string, args ...any) {
	if eventType != v1.EventTypeNormal && eventType != v1.EventTypeWarning {
		klog.Errorf("edged: event %s about %s %s/%s has the unsupported type %q; not recorded", reason, ref.Kind, ref.Namespace, ref.Name, eventType)
		return
	}
	message := fmt.Sprintf(format, args...)
	klog.V(3).Infof("edged: event %s %s %s/%s %s: %s", eventType, ref.Kind, ref.Namespace, ref.Name, reason, message)
	if !r.cfg.Enable {
		return
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.makeEvent(ref, eventType, reason, truncate(message, maxMessage), now)
	r.stats.Recorded++
	c := r.corr.correlate(ev, now)
	if c.skip {
		r.stats.Filtered++
		return
	}
	w := &write{event: c.event, series: c.series}
	if enc, err := encode(c.event, c.repeat); err == nil {
		w.size = len(enc.Content)
	}
	r.dropped(r.queue.put(w), now)
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// makeEvent is the kubelet recorder's event: named after the object and
// the time, in the object's namespace (default for the node). The time in
// the name goes forward by at least a nanosecond from event to event, so
// that two events at the same instant are two objects. Called with r.mu
// held.
func (r *Recorder) makeEvent(ref *v1.ObjectReference, eventType, reason, message string, now time.Time) *v1.Event {
	t := metav1.NewTime(now)
	namespace := ref.Namespace
	if namespace == "" {
		namespace = metav1.NamespaceDefault
	}
	r.lastName = max(now.UnixNano(), r.lastName+1)
	return &v1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: eventName(ref.Name, r.lastName), Namespace: namespace},
		InvolvedObject:      *ref,
		Reason:              reason,
		Message:             message,
		Source:              v1.EventSource{Component: component, Host: r.cfg.NodeName},
		FirstTimestamp:      t,
		LastTimestamp:       t,
		Count:               1,
		Type:                eventType,
		ReportingController: component,
		ReportingInstance:   r.cfg.NodeName,
	}
}

// eventName is <object>.<unix nanoseconds in hex>; a name too long for an
// object name is a UUID instead, as client-go does.
func eventName(object string, nanos int64) string {
	name := fmt.Sprintf("%s.%x", object, nanos)
	if len(name) > 253 {
		return uuid.NewString()
	}
	return name
}

// truncate cuts s to at most n bytes on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// dropped accounts for writes the queue's bound dropped: an event whose
// create was dropped is created by its next occurrence. Drops are logged
// at most once a minute.
func (r *Recorder) dropped(ws []*write, now time.Time) {
	if len(ws) == 0 {
		return
	}
	r.stats.Dropped += uint64(len(ws))
	if now.Sub(r.lastDropAt) >= time.Minute {
		r.lastDropAt = now
		klog.Warningf("edged: events: %d KiB of events wait for the cloud, the most kept; dropped the oldest (%d dropped so far)",
			r.cfg.QueueBytes>>10, r.stats.Dropped)
	}
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Pending, s.PendingBytes = r.queue.len(), r.queue.bytes
	return s
}

// Run sends the waiting events while the cloud is reachable, at the
// configured rate, until ctx ends. Disabled, it returns at once.
func (r *Recorder) Run(ctx context.Context) {
	if !r.cfg.Enable {
		return
	}
	for r.waitSendable(ctx) {
		if err := r.limiter.Wait(ctx); err != nil {
			return
		}
		w, enc, before, ok := r.take()
		if !ok {
			continue
		}
		if err := r.sink(enc); err != nil {
			klog.V(2).Infof("edged: events: %s %s not sent: %v; retrying", enc.Operation, enc.Resource, err)
			r.putBack(w, before)
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		r.mu.Lock()
		r.stats.Sent++
		r.mu.Unlock()
	}
}

// waitSendable waits until an event waits and the cloud is reachable; it
// returns false once ctx ended. Being reachable is polled every second,
// since nothing announces it here.
func (r *Recorder) waitSendable(ctx context.Context) bool {
	for {
		r.mu.Lock()
		waiting, online := r.queue.len() > 0, r.online
		r.mu.Unlock()
		if waiting && online() {
			return true
		}
		var poll <-chan time.Time
		if waiting {
			poll = time.After(time.Second)
		}
		select {
		case <-ctx.Done():
			return false
		case <-r.wake:
		case <-poll:
		}
	}
}

// take pops the oldest write and decides how it goes: a patch when the
// cloud has its event, else a create (first occurrence, its create
// dropped, or the event expired in the API server). It returns the
// series' state from before, for putBack.
func (r *Recorder) take() (*write, Write, series, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		w, ok := r.queue.pop()
		if !ok {
			return nil, Write{}, series{}, false
		}
		now := r.cfg.Now()
		s := w.series
		enc, err := encode(w.event, s.inCloud && now.Sub(s.written) < seriesTTL)
		if err != nil {
			klog.Errorf("edged: events: %v; dropped", err)
			continue
		}
		before := *s
		s.inCloud, s.written = true, now
		return w, enc, before, true
	}
}

// putBack returns a write the sink refused to the front of the queue,
// and its series to what the cloud had before.
func (r *Recorder) putBack(w *write, before series) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.series.inCloud, w.series.written = before.inCloud, before.written
	r.dropped(r.queue.requeue(w), r.cfg.Now())
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
