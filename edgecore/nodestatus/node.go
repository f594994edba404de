package nodestatus

import (
	"net"
	"runtime"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/config"
)

// KubeEdge release edgecore speaks to, and the kubelet version string that
// release's edged reports (<kubelet>-kubeedge-<release>); cloudcore reads
// the release from it.
const (
	KubeEdgeRelease = "v1.23.1"
	KubeletVersion  = "v1.32.10-kubeedge-" + KubeEdgeRelease
)

// Condition texts, as the kubelet and KubeEdge's edged write them.
const (
	readyReason    = "EdgeReady"
	readyMessage   = "edge is posting ready status"
	notReadyReason = "KubeletNotReady"
)

// Readiness says whether the node can run pods, and why not.
type Readiness func() (ready bool, message string)

// AlwaysReady is the readiness of a node with nothing to check.
func AlwaysReady() (bool, string) { return true, "" }

// Eviction holds the hard eviction thresholds pressure is judged by. A zero
// threshold means none.
type Eviction struct {
	MemoryAvailable    config.Threshold // memory.available
	NodeFSAvailable    config.Threshold // nodefs.available
	NodeFSInodesFree   config.Threshold // nodefs.inodesFree
	PIDAvailable       config.Threshold // pid.available
	PressureTransition time.Duration
}

// DefaultEviction is KubeEdge's evictionHard (memory.available 100Mi,
// nodefs.available 10%, nodefs.inodesFree 5%) plus pid.available 5%: a
// gateway that runs out of PIDs stops answering, so edgegate watches it
// where the kubelet leaves it unset.
func DefaultEviction() Eviction {
	return Eviction{
		MemoryAvailable:    config.Threshold{Quantity: 100 << 20},
		NodeFSAvailable:    config.Threshold{Percent: 10},
		NodeFSInodesFree:   config.Threshold{Percent: 5},
		PIDAvailable:       config.Threshold{Percent: 5},
		PressureTransition: 5 * time.Minute,
	}
}

// pressures says which pressures the facts show.
func (e Eviction) pressures(f Facts) (memory, disk, pid bool) {
	memory = f.MemAvailable < e.MemoryAvailable.Of(f.MemTotal)
	disk = f.FSAvailable < e.NodeFSAvailable.Of(f.FSCapacity) ||
		(f.FSInodes > 0 && int64(f.FSInodesFree) < e.NodeFSInodesFree.Of(int64(f.FSInodes)))
	pid = f.PIDMax > 0 && f.PIDMax-f.PIDs < e.PIDAvailable.Of(f.PIDMax)
	return memory, disk, pid
}

// nodeBuilder turns facts into the node's labels and status.
type nodeBuilder struct {
	name      string
	labels    map[string]string
	nodeIP    string
	board     string // BoardLabel's value; empty: no label
	maxPods   int64
	eviction  Eviction
	runtime   func() string // containerRuntimeVersion, e.g. containerd://2.4.2
	readiness Readiness
	// storeResetFor is how long StoreReset stays True once the cloud has
	// it (DefaultStoreResetFor when zero).
	storeResetFor time.Duration
	// lastPressure is when each pressure was last observed, so a
	// condition stays True for PressureTransition (the kubelet's
	// evictionPressureTransitionPeriod) instead of flapping.
	lastPressure map[v1.NodeConditionType]time.Time
	// update follows the update service's outcome file.
	update updateTracker
}

// BoardLabel names the gateway's board (qemu-arm64, rpi4, …), so that
// workloads can be placed by hardware.
const BoardLabel = "edgegate.io/board"

// Labels are the node's labels: the kubelet's well-known ones, KubeEdge's
// role labels, the board, and the configured nodeLabels (which win).
func (b *nodeBuilder) Labels() map[string]string {
	l := map[string]string{
		v1.LabelHostname:                b.name,
		v1.LabelOSStable:                runtime.GOOS,
		v1.LabelArchStable:              runtime.GOARCH,
		"beta.kubernetes.io/os":         runtime.GOOS,
		"beta.kubernetes.io/arch":       runtime.GOARCH,
		"node-role.kubernetes.io/edge":  "",
		"node-role.kubernetes.io/agent": "",
	}
	if b.board != "" {
		l[BoardLabel] = b.board
	}
	for k, v := range b.labels {
		l[k] = v
	}
	return l
}

// Node is the node edgecore registers.
func (b *nodeBuilder) Node(f Facts, now time.Time) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: b.name, Labels: b.Labels()},
		Status:     b.Status(f, nil, now),
	}
}

// Status is the node status for facts; prev, the status last reported,
// keeps each condition's lastTransitionTime while it does not change.
func (b *nodeBuilder) Status(f Facts, prev *v1.NodeStatus, now time.Time) v1.NodeStatus {
	capacity := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(f.CPUs), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(f.MemTotal, resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(b.maxPods, resource.DecimalSI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(f.FSCapacity, resource.BinarySI),
	}
	// Allocatable is capacity less the hard eviction thresholds, as the
	// kubelet computes it with no reservations configured.
	allocatable := v1.ResourceList{
		v1.ResourceCPU:              capacity[v1.ResourceCPU],
		v1.ResourceMemory:           *resource.NewQuantity(max(0, f.MemTotal-b.eviction.MemoryAvailable.Of(f.MemTotal)), resource.BinarySI),
		v1.ResourcePods:             capacity[v1.ResourcePods],
		v1.ResourceEphemeralStorage: *resource.NewQuantity(max(0, f.FSCapacity-b.eviction.NodeFSAvailable.Of(f.FSCapacity)), resource.BinarySI),
	}
	return v1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable,
		Conditions:  b.conditions(f, prev, now),
		Addresses:   b.addresses(),
		NodeInfo: v1.NodeSystemInfo{
			MachineID:               f.MachineID,
			SystemUUID:              f.SystemUUID,
			BootID:                  f.BootID,
			KernelVersion:           f.KernelVersion,
			OSImage:                 f.OSImage,
			ContainerRuntimeVersion: b.runtime(),
			KubeletVersion:          KubeletVersion,
			OperatingSystem:         runtime.GOOS,
			Architecture:            runtime.GOARCH,
		},
	}
}

// conditions are the gateway's own (conditions.go), then MemoryPressure,
// DiskPressure, PIDPressure and Ready, in the kubelet's order and words,
// then EdgegateUpdate where the update service reports (update.go).
func (b *nodeBuilder) conditions(f Facts, prev *v1.NodeStatus, now time.Time) []v1.NodeCondition {
	mem, disk, pid := b.eviction.pressures(f)
	ready, why := b.readiness()
	readyCond := condition(v1.NodeReady, ready, readyReason, readyMessage, notReadyReason, why)
	resetFor := b.storeResetFor
	if resetFor <= 0 {
		resetFor = DefaultStoreResetFor
	}
	out := []v1.NodeCondition{
		dataPartitionCondition(f),
		firewallCondition(f),
		storeResetCondition(f.StoreReset, prev, resetFor, now),
		condition(v1.NodeMemoryPressure, b.held(v1.NodeMemoryPressure, mem, now),
			"KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
			"KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		condition(v1.NodeDiskPressure, b.held(v1.NodeDiskPressure, disk, now),
			"KubeletHasDiskPressure", "kubelet has disk pressure",
			"KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		condition(v1.NodePIDPressure, b.held(v1.NodePIDPressure, pid, now),
			"KubeletHasInsufficientPID", "kubelet has insufficient PID available",
			"KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		readyCond,
	}
	if c, ok := b.update.condition(f.Update, now); ok {
		out = append(out, c)
	}
	for i := range out {
		out[i].LastHeartbeatTime = metav1.NewTime(now)
		out[i].LastTransitionTime = metav1.NewTime(now)
		if old := findCondition(prev, out[i].Type); old != nil && sameCondition(*old, out[i]) {
			out[i].LastTransitionTime = old.LastTransitionTime
		}
	}
	return out
}

// held reports a pressure as present while it was observed within the
// transition period.
func (b *nodeBuilder) held(kind v1.NodeConditionType, observed bool, now time.Time) bool {
	if b.lastPressure == nil {
		b.lastPressure = map[v1.NodeConditionType]time.Time{}
	}
	if observed {
		b.lastPressure[kind] = now
		return true
	}
	last, ok := b.lastPressure[kind]
	return ok && now.Sub(last) < b.eviction.PressureTransition
}

// condition builds a condition that is True with (trueReason, trueMsg) and
// False with (falseReason, falseMsg).
func condition(t v1.NodeConditionType, isTrue bool, trueReason, trueMsg, falseReason, falseMsg string) v1.NodeCondition {
	if isTrue {
		return v1.NodeCondition{Type: t, Status: v1.ConditionTrue, Reason: trueReason, Message: trueMsg}
	}
	return v1.NodeCondition{Type: t, Status: v1.ConditionFalse, Reason: falseReason, Message: falseMsg}
}

func findCondition(s *v1.NodeStatus, t v1.NodeConditionType) *v1.NodeCondition {
	if s == nil {
		return nil
	}
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// addresses are the configured nodeIP or the first global unicast IPv4
// address (as edged picks it), then the host name.
func (b *nodeBuilder) addresses() []v1.NodeAddress {
	ip := NodeIP(b.nodeIP)
	var out []v1.NodeAddress
	if ip != "" {
		out = append(out, v1.NodeAddress{Type: v1.NodeInternalIP, Address: ip})
	}
	return append(out, v1.NodeAddress{Type: v1.NodeHostName, Address: b.name})
}

// NodeIP is the node's InternalIP: configured, or the first global
// unicast IPv4 address (edged's hostIP for pods too).
func NodeIP(configured string) string {
	if configured != "" {
		return configured
	}
	return firstGlobalIPv4()
}

func firstGlobalIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
