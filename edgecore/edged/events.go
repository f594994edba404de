package edged

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/bus"
	"github.com/edgegate/edgegate/edgecore/edged/events"
	"github.com/edgegate/edgegate/edgecore/model"
)

// The kubelet's event reasons (pkg/kubelet/events) that edged records.
const (
	eventPulling           = "Pulling"
	eventPulled            = "Pulled"
	eventFailed            = "Failed" // pull, create or start of a container
	eventBackOff           = "BackOff"
	eventErrImageNeverPull = "ErrImageNeverPull"
	eventCreated           = "Created"
	eventStarted           = "Started"
	eventKilling           = "Killing"
	eventUnhealthy         = "Unhealthy"
	eventFailedMount       = "FailedMount"
	eventFailedSandbox     = "FailedCreatePodSandBox"
	eventFailedPostStart   = "FailedPostStartHook"
	eventFailedPreStop     = "FailedPreStopHook"
	eventImageGCFailed     = "ImageGCFailed"
	eventNodeStarting      = "Starting"
	eventNodeReady         = "NodeReady"
	eventNodeNotReady      = "NodeNotReady"
)

// eventSink hands event writes to metamanager as KubeEdge's edged does
// (source edged, group meta); metamanager passes them straight to the
// cloud.
func eventSink(b *bus.Bus) events.Sink {
	return func(w events.Write) error {
		msg := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, w.Resource, w.Operation).FillBody(w.Content)
		return b.Send(model.MetaManagerModuleName, *msg)
	}
}

// nodeEvent records an event about the node.
func (m *Module) nodeEvent(eventType, reason, format string, args ...any) {
	m.events.Eventf(events.NodeRef(m.cfg.NodeName), eventType, reason, format, args...)
}

// nodeStatusEvent is the kubelet's event for a change of the node's Ready
// condition.
func (m *Module) nodeStatusEvent(reason string) {
	m.nodeEvent(v1.EventTypeNormal, reason, "Node %s status is now: %s", m.cfg.NodeName, reason)
}

// podEvent records an event about the pod.
func (m *Module) podEvent(pod *v1.Pod, eventType, reason, format string, args ...any) {
	m.events.Eventf(events.PodRef(pod), eventType, reason, format, args...)
}

// containerEvent records an event about one of the pod's containers. As
// the kubelet, it writes the container's name for its ID in the message,
// so that repeats about successive instances count as one event.
func (m *Module) containerEvent(pod *v1.Pod, c *v1.Container, id, eventType, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if id != "" {
		msg = strings.ReplaceAll(msg, id, c.Name)
	}
	m.events.Eventf(events.ContainerRef(pod, c), eventType, reason, "%s", msg)
}

// containerFailed is the kubelet's Failed event for a container that did
// not get to run: "Error: <reason or message>".
func (m *Module) containerFailed(pod *v1.Pod, c *v1.Container, id, text string) {
	m.containerEvent(pod, c, id, v1.EventTypeWarning, eventFailed, "Error: %s", text)
}

// killMessage is the kubelet's Killing message for why edged stops a
// container.
func killMessage(c *v1.Container, why string) string {
	switch why {
	case whySpecChanged:
		return fmt.Sprintf("Container %s definition changed, will be restarted", c.Name)
	case whyLiveness:
		return fmt.Sprintf("Container %s failed liveness probe, will be restarted", c.Name)
	case whyStartup:
		return fmt.Sprintf("Container %s failed startup probe, will be restarted", c.Name)
	}
	return fmt.Sprintf("Stopping container %s", c.Name)
}

// Why edged stops a container (killContainer's why).
const (
	whySpecChanged = "spec changed"
	whyLiveness    = "liveness probe failed"
	whyStartup     = "startup probe failed"
	whyDeleted     = "pod is being deleted"
)

// formatPod is the kubelet's format.Pod: name_namespace(uid).
func formatPod(pod *v1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// noteBackOff reports whether the back-off that began at since (the
// failed attempt it follows) is news for the container: the BackOff
// event is recorded once per back-off, not on every look at the pod.
func (w *worker) noteBackOff(kind, container string, since time.Time) bool {
	k := kind + "/" + container
	if w.backOffNoted[k].Equal(since) {
		return false
	}
	w.backOffNoted[k] = since
	return true
}
