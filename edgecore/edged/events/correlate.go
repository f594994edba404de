package events

import (
	"fmt"
	"time"

	"golang.org/x/time/rate"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubelet's event correlation (client-go tools/record, events_cache.go).
const (
	// cacheEntries bounds each of the correlator's caches.
	cacheEntries = 4096
	// aggregateMax similar events (differing only in their message)
	// within aggregateWindow are combined into one event.
	aggregateMax    = 10
	aggregateWindow = 10 * time.Minute
	// A source may burst spamBurst events about one object, then one
	// every 1/spamRate seconds: an object that is always unhealthy does
	// not flood the cloud.
	spamBurst = 25
	spamRate  = rate.Limit(1.0 / 300)
)

// combinedPrefix starts the message of an aggregated event.
const combinedPrefix = "(combined from similar events): "

// series is one event as the cloud has it: each repeat of it raises its
// count and is a patch of the same object.
type series struct {
	name  string
	count int32
	first metav1.Time
	// inCloud: the event's create went to the cloud; repeats are patches.
	inCloud bool
	// written is when the series was last sent: the API server deletes an
	// event an hour (--event-ttl) after its last write, and a patch after
	// that would find nothing.
	written time.Time
}

// aggregate is the set of distinct messages seen for similar events.
type aggregate struct {
	messages map[key]struct{}
	last     time.Time
}

// correlator filters, aggregates and counts events as the kubelet's
// EventCorrelator does. It is not safe for concurrent use.
type correlator struct {
	aggregates *lru[*aggregate]
	series     *lru[*series]
	spam       *lru[*rate.Limiter]
}

func newCorrelator() *correlator {
	return &correlator{
		aggregates: newLRU[*aggregate](cacheEntries),
		series:     newLRU[*series](cacheEntries),
		spam:       newLRU[*rate.Limiter](cacheEntries),
	}
}

// correlation is what becomes of one recorded event.
type correlation struct {
	event  *v1.Event // the event to write, with its series' name and count
	series *series
	repeat bool // an occurrence of an event already written: a patch
	skip   bool // held back by the spam filter
}

// correlate aggregates ev with similar events, counts it in its series
// and applies the spam filter, at now. ev is not modified.
func (c *correlator) correlate(ev *v1.Event, now time.Time) correlation {
	ev, cacheKey := c.aggregate(ev, now)
	out := *ev
	s, found := c.series.get(cacheKey)
	repeat := found && s.count > 0
	if repeat {
		out.Name = s.name
		out.FirstTimestamp = s.first
		out.Count = s.count + 1
	} else {
		s = &series{}
		c.series.add(cacheKey, s)
	}
	s.name, s.count, s.first = out.Name, out.Count, out.FirstTimestamp
	// As in client-go, a filtered event still counts in its series: the
	// next one let through carries the full count.
	if !c.allow(&out, now) {
		return correlation{skip: true}
	}
	return correlation{event: &out, series: s, repeat: repeat}
}

// aggregate records ev's message among those of similar events. Below
// aggregateMax distinct messages in the window ev stands as it is, keyed
// by all its fields; from then on it becomes the combined event of its
// kind, keyed by what the similar events share, which repeats count.
func (c *correlator) aggregate(ev *v1.Event, now time.Time) (*v1.Event, key) {
	similar := similarKey(ev)
	a, ok := c.aggregates.get(similar)
	if !ok || now.Sub(a.last) > aggregateWindow {
		a = &aggregate{messages: map[key]struct{}{}}
		c.aggregates.add(similar, a)
	}
	a.messages[keyOf(ev.Message)] = struct{}{}
	a.last = now
	if len(a.messages) < aggregateMax {
		return ev, eventKey(ev)
	}
	for m := range a.messages { // keep the set from growing past the maximum
		delete(a.messages, m)
		break
	}
	t := metav1.NewTime(now)
	return &v1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", ev.InvolvedObject.Name, now.UnixNano()), Namespace: ev.Namespace},
		InvolvedObject: ev.InvolvedObject,
		Reason:         ev.Reason,
		Message:        combinedPrefix + ev.Message,
		Source:         ev.Source,
		FirstTimestamp: t,
		LastTimestamp:  t,
		Count:          1,
		Type:           ev.Type,
	}, similar
}

// allow is the per source and object token bucket.
func (c *correlator) allow(ev *v1.Event, now time.Time) bool {
	k := spamKey(ev)
	l, ok := c.spam.get(k)
	if !ok {
		l = rate.NewLimiter(spamRate, spamBurst)
		c.spam.add(k, l)
	}
	return l.AllowN(now, 1)
}

// eventKey: events equal in every field that a reader sees are one series.
func eventKey(ev *v1.Event) key {
	o := ev.InvolvedObject
	return keyOf(ev.Source.Component, ev.Source.Host, o.Kind, o.Namespace, o.Name, o.FieldPath,
		string(o.UID), o.APIVersion, ev.Type, ev.Reason, ev.Message)
}

// similarKey: events that differ only in their message are similar.
func similarKey(ev *v1.Event) key {
	o := ev.InvolvedObject
	return keyOf(ev.Source.Component, ev.Source.Host, o.Kind, o.Namespace, o.Name,
		string(o.UID), o.APIVersion, ev.Type, ev.Reason, ev.ReportingController, ev.ReportingInstance)
}

// spamKey: one bucket per source, object and event type.
func spamKey(ev *v1.Event) key {
	o := ev.InvolvedObject
	return keyOf(ev.Source.Component, ev.Source.Host, o.Kind, o.Namespace, o.Name,
		string(o.UID), o.APIVersion, ev.Type)
}
