package testcloud

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Send delivers msg to node. A message that needs an ack (§3.5) is queued and
// resent every ResendInterval until the edge acks it, across reconnects;
// others are written once if the node is connected.
func (c *Cloud) Send(node string, msg *model.Message) error {
	c.mu.Lock()
	s := c.sessions[node]
	if needsAck(msg) && msg.Operation() != model.DeleteOperation && !newerThan(msg.Header.ResourceVersion, c.synced[msg.Resource()]) {
		// cloudhub enqueues only what is newer than the node's
		// ObjectSync: the edge already has it.
		c.mu.Unlock()
		return nil
	}
	if needsAck(msg) {
		q := c.queue(node)
		if _, dup := q.pending[msg.ID()]; !dup {
			q.order = append(q.order, msg.ID())
		}
		q.pending[msg.ID()] = &pendingMsg{msg: msg, lastSent: time.Now(), sentOn: s}
	}
	c.mu.Unlock()
	if s == nil {
		if needsAck(msg) {
			return nil // goes out when the node connects
		}
		return fmt.Errorf("node %s not connected", node)
	}
	return s.write(msg)
}

// SendRaw writes one text frame as given (for bad-input tests).
func (c *Cloud) SendRaw(node string, frame []byte) error {
	c.mu.Lock()
	s := c.sessions[node]
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("node %s not connected", node)
	}
	return s.writeRaw(frame)
}

// Kick closes node's session as a network failure would.
func (c *Cloud) Kick(node string) {
	c.mu.Lock()
	s := c.sessions[node]
	c.mu.Unlock()
	if s != nil {
		s.close(errors.New("kicked"))
	}
}

func (c *Cloud) queue(node string) *nodeQueue {
	q := c.queues[node]
	if q == nil {
		q = &nodeQueue{pending: map[string]*pendingMsg{}}
		c.queues[node] = q
	}
	return q
}

// resendLoop sends what is pending at once on connect, then resends what
// stays unacked for ResendInterval.
func (c *Cloud) resendLoop(s *session) {
	tick := time.NewTicker(c.opts.ResendInterval / 5)
	defer tick.Stop()
	first := true
	for {
		for _, m := range c.due(s, first) {
			if err := s.write(m); err != nil {
				s.close(err)
				return
			}
		}
		first = false
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
	}
}

func (c *Cloud) due(s *session, all bool) []*model.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queues[s.node]
	if q == nil {
		return nil
	}
	var out []*model.Message
	kept := q.order[:0]
	now := time.Now()
	for _, id := range q.order {
		p, ok := q.pending[id]
		if !ok {
			continue
		}
		kept = append(kept, id)
		if (all && p.sentOn != s) || now.Sub(p.lastSent) >= c.opts.ResendInterval {
			p.lastSent, p.sentOn = now, s
			out = append(out, p.msg)
		}
	}
	q.order = kept
	return out
}

// PodMessage builds edgecontroller's pod message for op on pod (§3.8).
func PodMessage(op, namespace, name, uid, resourceVersion string, spec map[string]any) *model.Message {
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": namespace, "uid": uid, "resourceVersion": resourceVersion},
		"spec":     spec,
	}
	m := model.NewMessage("")
	m.BuildRouter(model.EdgeControllerModuleName, model.ResourceGroup, model.BuildResource(namespace, model.ResourceTypePod, name), op)
	m.SetResourceVersion(resourceVersion)
	m.FillBody(pod)
	return m
}

// newerThan compares resourceVersions as cloudcore does (as integers); an
// unknown synced version is older than anything.
func newerThan(rv, synced string) bool {
	if synced == "" {
		return true
	}
	a, errA := strconv.ParseUint(rv, 10, 64)
	b, errB := strconv.ParseUint(synced, 10, 64)
	if errA != nil || errB != nil {
		return rv != synced
	}
	return a > b
}
