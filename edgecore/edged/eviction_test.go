package edged

import (
	"errors"
	"os"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/bus"
)

func TestEmptyDirOverLimit(t *testing.T) {
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	vol := func(name string, medium v1.StorageMedium, limit *resource.Quantity) v1.Volume {
		return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: medium, SizeLimit: limit}}}
	}
	usage := map[string]int64{"small": 1 << 20, "big": 3 << 20, "exact": 2 << 20}
	read := func(name string) (int64, error) {
		u, ok := usage[name]
		if !ok {
			return 0, errors.New("no such directory")
		}
		return u, nil
	}
	tests := []struct {
		name string
		vols []v1.Volume
		want string
	}{
		{"under its limit", []v1.Volume{vol("small", "", q("2Mi"))}, ""},
		{"at its limit", []v1.Volume{vol("exact", "", q("2Mi"))}, ""},
		{"over its limit: the kubelet's message", []v1.Volume{vol("big", "", q("2Mi"))}, `Usage of EmptyDir volume "big" exceeds the limit "2Mi". `},
		{"the first one over", []v1.Volume{vol("small", "", q("2Mi")), vol("big", "", q("1M"))}, `Usage of EmptyDir volume "big" exceeds the limit "1M". `},
		{"no sizeLimit", []v1.Volume{vol("big", "", nil)}, ""},
		{"a zero sizeLimit is none", []v1.Volume{vol("big", "", q("0"))}, ""},
		{"memory: its tmpfs is the limit", []v1.Volume{vol("big", v1.StorageMediumMemory, q("1Mi"))}, ""},
		{"usage unknown: passed over", []v1.Volume{vol("missing", "", q("1"))}, ""},
		{"not an emptyDir", []v1.Volume{{Name: "big", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/"}}}}, ""},
	}
	for _, tc := range tests {
		pod := &v1.Pod{Spec: v1.PodSpec{Volumes: tc.vols}}
		if got := emptyDirOverLimit(pod, read); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestEvictionIsFinal: an evicted pod is done, also for the worker of a
// restarted edgecore; so is a pod the cloud has Failed or Succeeded.
func TestEvictionIsFinal(t *testing.T) {
	m := New(Config{Enable: true, PodsDir: t.TempDir(), PodsRunDir: t.TempDir()}, bus.New())
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "uid-1"}, Spec: v1.PodSpec{RestartPolicy: v1.RestartPolicyAlways}}
	w := newWorker(m, pod)
	if w.done(pod) || w.evictionMessage() != "" {
		t.Fatal("a new pod is done")
	}
	if err := mkdirPod(m, "uid-1"); err != nil {
		t.Fatal(err)
	}
	w.evict("Usage of EmptyDir volume \"cache\" exceeds the limit \"1Mi\". ")
	if !w.done(pod) {
		t.Fatal("an evicted pod is not done")
	}
	again := newWorker(m, pod)
	if got := again.evictionMessage(); got != w.evictionMessage() {
		t.Errorf("after a restart the eviction reads %q, want %q", got, w.evictionMessage())
	}
	for _, phase := range []v1.PodPhase{v1.PodFailed, v1.PodSucceeded} {
		p := pod.DeepCopy()
		p.UID = "uid-2"
		p.Status.Phase = phase
		if !newWorker(m, p).done(p) {
			t.Errorf("a pod the cloud has %s is not done", phase)
		}
	}
}

func mkdirPod(m *Module, uid string) error {
	return os.MkdirAll(m.vols.PodDir(uid), 0o750)
}
