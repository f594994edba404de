package nodestatus

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func healthyFacts() Facts {
	return Facts{
		CPUs: 4, MemTotal: 1 << 30, MemAvailable: 600 << 20,
		FSCapacity: 10 << 30, FSAvailable: 5 << 30, FSInodes: 1000, FSInodesFree: 900,
		PIDMax: 32768, PIDs: 200,
		KernelVersion: "6.1.0-50-arm64", OSImage: "edgegate 1.0", BootID: "b", MachineID: "0123456789abcdef0123456789abcdef", SystemUUID: "s",
	}
}

func builder() *nodeBuilder {
	return &nodeBuilder{name: "gw-1", nodeIP: "192.0.2.7", maxPods: 110, eviction: DefaultEviction(),
		runtime: func() string { return "containerd://2.4.2" }, readiness: AlwaysReady}
}

func conditionStatus(s v1.NodeStatus) map[v1.NodeConditionType]v1.ConditionStatus {
	out := map[v1.NodeConditionType]v1.ConditionStatus{}
	for _, c := range s.Conditions {
		out[c.Type] = c.Status
	}
	return out
}

// Pressure conditions follow the measurements against the eviction
// thresholds; Ready follows the readiness check.
func TestConditions(t *testing.T) {
	tests := []struct {
		name  string
		facts func(*Facts)
		ready bool
		want  map[v1.NodeConditionType]v1.ConditionStatus
	}{
		{"healthy", func(*Facts) {}, true, map[v1.NodeConditionType]v1.ConditionStatus{
			v1.NodeMemoryPressure: v1.ConditionFalse, v1.NodeDiskPressure: v1.ConditionFalse, v1.NodePIDPressure: v1.ConditionFalse, v1.NodeReady: v1.ConditionTrue}},
		{"memory below 100Mi", func(f *Facts) { f.MemAvailable = 99 << 20 }, true, map[v1.NodeConditionType]v1.ConditionStatus{
			v1.NodeMemoryPressure: v1.ConditionTrue, v1.NodeDiskPressure: v1.ConditionFalse, v1.NodePIDPressure: v1.ConditionFalse, v1.NodeReady: v1.ConditionTrue}},
		{"disk below 10%", func(f *Facts) { f.FSAvailable = 1<<30 - 1 }, true, map[v1.NodeConditionType]v1.ConditionStatus{
			v1.NodeMemoryPressure: v1.ConditionFalse, v1.NodeDiskPressure: v1.ConditionTrue, v1.NodePIDPressure: v1.ConditionFalse, v1.NodeReady: v1.ConditionTrue}},
		{"inodes below 5%", func(f *Facts) { f.FSInodesFree = 49 }, true, map[v1.NodeConditionType]v1.ConditionStatus{
			v1.NodeMemoryPressure: v1.ConditionFalse, v1.NodeDiskPressure: v1.ConditionTrue, v1.NodePIDPressure: v1.ConditionFalse, v1.NodeReady: v1.ConditionTrue}},
		{"pids below 5%", func(f *Facts) { f.PIDs = 32000 }, true, map[v1.NodeConditionType]v1.ConditionStatus{
			v1.NodeMemoryPressure: v1.ConditionFalse, v1.NodeDiskPressure: v1.ConditionFalse, v1.NodePIDPressure: v1.ConditionTrue, v1.NodeReady: v1.ConditionTrue}},
		{"not ready", func(*Facts) {}, false, map[v1.NodeConditionType]v1.ConditionStatus{
			v1.NodeMemoryPressure: v1.ConditionFalse, v1.NodeDiskPressure: v1.ConditionFalse, v1.NodePIDPressure: v1.ConditionFalse, v1.NodeReady: v1.ConditionFalse}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := healthyFacts()
			tt.facts(&f)
			b := builder()
			b.readiness = func() (bool, string) { return tt.ready, "container runtime is down" }
			s := b.Status(f, nil, time.Now())
			got := conditionStatus(s)
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %s, want %s", k, got[k], v)
				}
			}
			last := len(s.Conditions) - 1
			if len(s.Conditions) != 7 || s.Conditions[last].Type != v1.NodeReady {
				t.Errorf("conditions %v, want the gateway's three and the kubelet's four with Ready last", s.Conditions)
			}
			if !tt.ready && (s.Conditions[last].Reason != "KubeletNotReady" || s.Conditions[last].Message != "container runtime is down") {
				t.Errorf("not-ready condition %+v", s.Conditions[last])
			}
		})
	}
}

// A pressure that went away stays reported for the transition period, and
// transition times move only when a condition's status changes.
func TestConditionTransitions(t *testing.T) {
	b := builder()
	b.eviction.PressureTransition = time.Minute
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := healthyFacts()
	s0 := b.Status(f, nil, t0)
	f.MemAvailable = 1 << 20
	s1 := b.Status(f, &s0, t0.Add(10*time.Second))
	f.MemAvailable = 600 << 20
	s2 := b.Status(f, &s1, t0.Add(40*time.Second))
	s3 := b.Status(f, &s2, t0.Add(90*time.Second))
	mem := func(s v1.NodeStatus) v1.NodeCondition { return *findCondition(&s, v1.NodeMemoryPressure) }
	if mem(s1).Status != v1.ConditionTrue || mem(s2).Status != v1.ConditionTrue || mem(s3).Status != v1.ConditionFalse {
		t.Fatalf("memory pressure %s → %s → %s, want True, True (held), False", mem(s1).Status, mem(s2).Status, mem(s3).Status)
	}
	if !mem(s1).LastTransitionTime.Time.Equal(mem(s2).LastTransitionTime.Time) || !mem(s1).LastTransitionTime.Time.Equal(t0.Add(10*time.Second)) {
		t.Errorf("transition time moved while True: %v, %v", mem(s1).LastTransitionTime, mem(s2).LastTransitionTime)
	}
	ready := func(s v1.NodeStatus) v1.NodeCondition { return *findCondition(&s, v1.NodeReady) }
	if !ready(s3).LastTransitionTime.Time.Equal(t0) || !ready(s3).LastHeartbeatTime.Time.Equal(t0.Add(90*time.Second)) {
		t.Errorf("Ready: transition %v heartbeat %v", ready(s3).LastTransitionTime, ready(s3).LastHeartbeatTime)
	}
}

func TestStatusResources(t *testing.T) {
	f := healthyFacts()
	s := builder().Status(f, nil, time.Now())
	q := func(l v1.ResourceList, n v1.ResourceName) string { v := l[n]; return v.String() }
	for name, want := range map[v1.ResourceName]string{v1.ResourceCPU: "4", v1.ResourceMemory: "1Gi", v1.ResourcePods: "110", v1.ResourceEphemeralStorage: "10Gi"} {
		if got := q(s.Capacity, name); got != want {
			t.Errorf("capacity %s = %s, want %s", name, got, want)
		}
	}
	// Allocatable: capacity less memory.available 100Mi and nodefs 10 %.
	for name, want := range map[v1.ResourceName]string{v1.ResourceMemory: "924Mi", v1.ResourceEphemeralStorage: "9Gi"} {
		if got := q(s.Allocatable, name); got != want {
			t.Errorf("allocatable %s = %s, want %s", name, got, want)
		}
	}
	info := s.NodeInfo
	if info.KernelVersion == "" || info.BootID == "" || info.MachineID == "" || info.SystemUUID == "" ||
		info.ContainerRuntimeVersion != "containerd://2.4.2" || info.KubeletVersion != "v1.32.10-kubeedge-v1.23.1" || info.OSImage != "edgegate 1.0" {
		t.Errorf("nodeInfo %+v", info)
	}
	if len(s.Addresses) != 2 || s.Addresses[0] != (v1.NodeAddress{Type: v1.NodeInternalIP, Address: "192.0.2.7"}) {
		t.Errorf("addresses %v", s.Addresses)
	}
}

// Only changes other than heartbeats count; the patch carries the whole
// status with the address list replaced and only the labels that changed.
func TestStatusPatch(t *testing.T) {
	b := builder()
	t0 := time.Now()
	old := b.Node(healthyFacts(), t0)
	old.Labels["custom"] = "kept"
	same := old.DeepCopy()
	same.Status = mergeStatus(old.Status, b.Status(healthyFacts(), &old.Status, t0.Add(10*time.Second)))
	if statusChanged(old, same) {
		t.Fatalf("a heartbeat alone counted as a change")
	}
	changed := same.DeepCopy()
	changed.Status.Addresses[0].Address = "192.0.2.8"
	changed.Labels["board"] = "rpi4"
	if !statusChanged(old, changed) {
		t.Fatalf("a new address did not count as a change")
	}
	raw, err := statusPatch(old, changed)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Metadata struct {
			Labels map[string]any `json:"labels"`
		} `json:"metadata"`
		Status struct {
			Addresses  []map[string]string `json:"addresses"`
			Conditions []v1.NodeCondition  `json:"conditions"`
		} `json:"status"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Metadata.Labels) != 1 || p.Metadata.Labels["board"] != "rpi4" {
		t.Errorf("patch labels %v, want only the new one", p.Metadata.Labels)
	}
	a := p.Status.Addresses
	if len(a) != 3 || a[0]["address"] != "192.0.2.8" || a[2]["$patch"] != "replace" {
		t.Errorf("patch addresses %v, want the new list with $patch: replace", a)
	}
	if len(p.Status.Conditions) != 7 {
		t.Errorf("patch conditions %v", p.Status.Conditions)
	}
	if strings.Contains(string(raw), `"spec"`) {
		t.Errorf("status patch touches spec: %s", raw)
	}
}

// Conditions and resources others wrote survive edgecore's status.
func TestMergeStatus(t *testing.T) {
	cloud := v1.NodeStatus{
		Capacity:   v1.ResourceList{"example.com/dongle": resource.MustParse("2")},
		Conditions: []v1.NodeCondition{{Type: "NetworkUnavailable", Status: v1.ConditionFalse}, {Type: v1.NodeReady, Status: v1.ConditionUnknown}},
	}
	merged := mergeStatus(cloud, builder().Status(healthyFacts(), nil, time.Now()))
	if _, ok := merged.Capacity["example.com/dongle"]; !ok {
		t.Errorf("extended resource dropped")
	}
	got := conditionStatus(merged)
	if got["NetworkUnavailable"] != v1.ConditionFalse || got[v1.NodeReady] != v1.ConditionTrue || len(merged.Conditions) != 8 {
		t.Errorf("conditions %v", merged.Conditions)
	}
}

// On a host without /etc/machine-id, edgecore generates one once and
// keeps it; the system UUID is derived from it.
func TestMachineIdentity(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	m := Machine{Root: root, StateDir: state, FSPath: filepath.Join(state, "not", "yet")}
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	if err := os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte("MemTotal:  1000 kB\nMemAvailable: 500 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f1, err := m.Facts()
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := m.Facts()
	if len(f1.MachineID) != 32 || f1.MachineID != f2.MachineID {
		t.Fatalf("machine IDs %q, %q: want one stable 32-hex ID", f1.MachineID, f2.MachineID)
	}
	if f1.SystemUUID != f1.MachineID[:8]+"-"+f1.MachineID[8:12]+"-"+f1.MachineID[12:16]+"-"+f1.MachineID[16:20]+"-"+f1.MachineID[20:] {
		t.Errorf("system UUID %q", f1.SystemUUID)
	}
	if f1.MemTotal != 1000*1024 || f1.FSCapacity == 0 {
		t.Errorf("memory %d, fs %d", f1.MemTotal, f1.FSCapacity)
	}
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc", "machine-id"), []byte("fedcba9876543210fedcba9876543210\n"), 0o444)
	os.WriteFile(filepath.Join(root, "etc", "os-release"), []byte("NAME=edgegate\nPRETTY_NAME=\"edgegate 2.0\"\n"), 0o444)
	f3, _ := m.Facts()
	if f3.MachineID != "fedcba9876543210fedcba9876543210" || f3.OSImage != "edgegate 2.0" {
		t.Errorf("host identity not preferred: %q %q", f3.MachineID, f3.OSImage)
	}
}

// The board an edgegate image names in os-release labels the node; the
// configured nodeLabels still win, and a host without it gets no label.
func TestBoardLabel(t *testing.T) {
	for _, tt := range []struct {
		name, osRelease string
		config          map[string]string
		want            string
		present         bool
	}{
		{"edgegate image", "NAME=edgegate\nVARIANT_ID=\"rpi4\"\n", nil, "rpi4", true},
		{"nodeLabels win", "VARIANT_ID=rpi4\n", map[string]string{BoardLabel: "cm4"}, "cm4", true},
		{"other OS", "NAME=Debian\nPRETTY_NAME=\"Debian 12\"\n", nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "etc/os-release"), []byte(tt.osRelease), 0o644); err != nil {
				t.Fatal(err)
			}
			b := &nodeBuilder{name: "gw-1", labels: tt.config, board: Machine{Root: root}.Board()}
			got, ok := b.Labels()[BoardLabel]
			if got != tt.want || ok != tt.present {
				t.Fatalf("label %s = %q (present %v), want %q (%v)", BoardLabel, got, ok, tt.want, tt.present)
			}
		})
	}
}
