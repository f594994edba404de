package volume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestMemorySize(t *testing.T) {
	mi := func(n int64) int64 { return n << 20 }
	q := func(s string) *resource.Quantity { v := resource.MustParse(s); return &v }
	limits := func(s string) v1.ResourceRequirements {
		return v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse(s)}}
	}
	pod := func(containers ...v1.ResourceRequirements) *v1.Pod {
		p := &v1.Pod{}
		for _, r := range containers {
			p.Spec.Containers = append(p.Spec.Containers, v1.Container{Resources: r})
		}
		return p
	}
	always := v1.ContainerRestartPolicyAlways
	alloc := v1.ResourceList{v1.ResourceMemory: resource.MustParse("900Mi")}
	tests := []struct {
		name  string
		pod   *v1.Pod
		limit *resource.Quantity
		alloc v1.ResourceList
		want  int64
	}{
		{"the node's allocatable memory", pod(v1.ResourceRequirements{}), nil, alloc, mi(900)},
		{"the pod's limit, lower", pod(limits("64Mi"), limits("32Mi")), nil, alloc, mi(96)},
		{"sizeLimit, lower still", pod(limits("64Mi")), q("8Mi"), alloc, mi(8)},
		{"sizeLimit above the pod's limit: the limit", pod(limits("64Mi")), q("1Gi"), alloc, mi(64)},
		{"sizeLimit above allocatable: allocatable", pod(v1.ResourceRequirements{}), q("2Gi"), alloc, mi(900)},
		{"a container without a limit: no pod limit", pod(limits("64Mi"), v1.ResourceRequirements{}), nil, alloc, mi(900)},
		{"a zero sizeLimit counts for nothing", pod(limits("64Mi")), q("0"), alloc, mi(64)},
		{"nothing known: the kernel's default", pod(v1.ResourceRequirements{}), nil, nil, 0},
		{"allocatable unknown: the pod's limit", pod(limits("64Mi")), nil, nil, mi(64)},
		{"an init container above the regular ones", func() *v1.Pod {
			p := pod(limits("64Mi"))
			p.Spec.InitContainers = []v1.Container{{Resources: limits("128Mi")}}
			return p
		}(), nil, alloc, mi(128)},
		{"a sidecar runs beside everything", func() *v1.Pod {
			p := pod(limits("64Mi"))
			p.Spec.InitContainers = []v1.Container{{Resources: limits("16Mi"), RestartPolicy: &always}, {Resources: limits("70Mi")}}
			return p
		}(), nil, alloc, mi(86)},
		{"an init container without a limit: no pod limit", func() *v1.Pod {
			p := pod(limits("64Mi"))
			p.Spec.InitContainers = []v1.Container{{}}
			return p
		}(), nil, alloc, mi(900)},
		{"overhead is added", func() *v1.Pod {
			p := pod(limits("64Mi"))
			p.Spec.Overhead = v1.ResourceList{v1.ResourceMemory: resource.MustParse("8Mi")}
			return p
		}(), nil, alloc, mi(72)},
	}
	for _, tc := range tests {
		if got := memorySize(tc.pod, &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: tc.limit}, tc.alloc); got != tc.want {
			t.Errorf("%s: memorySize = %d MiB (%d), want %d MiB", tc.name, got>>20, got, tc.want>>20)
		}
	}
}

func memoryVolume(name, size string) v1.Volume {
	src := &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}
	if size != "" {
		q := resource.MustParse(size)
		src.SizeLimit = &q
	}
	return v1.Volume{Name: name, VolumeSource: v1.VolumeSource{EmptyDir: src}}
}

// requireMounts skips a test that mounts when that cannot be done here.
func requireMounts(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts a tmpfs; not in -short")
	}
	requireRoot(t, "mounting a tmpfs")
}

func newRunManager(t *testing.T) Manager {
	t.Helper()
	root := t.TempDir()
	m := Manager{Root: filepath.Join(root, "pods"), RunRoot: filepath.Join(root, "run")}
	t.Cleanup(func() { _ = unmountAll(m.RunRoot) })
	return m
}

func statfs(t *testing.T, dir string) unix.Statfs_t {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestMemoryEmptyDir: a tmpfs of the volume's size under RunRoot, mounted
// once: a second Setup keeps it and its data; Teardown unmounts and
// removes it.
func TestMemoryEmptyDir(t *testing.T) {
	requireMounts(t)
	m := newRunManager(t)
	pod := newPod(memoryVolume("cache", "8Mi"))
	pod.Spec.Containers[0].Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")}
	mounts, err := m.Setup(pod, nil, Fields{})
	if err != nil {
		t.Fatal(err)
	}
	dir := mounts["cache"].HostPath
	if want := filepath.Join(m.RunRoot, testUID, "volumes", "kubernetes.io~empty-dir", "cache"); dir != want || mounts["cache"].ReadOnly {
		t.Fatalf("mount %+v, want %s writable", mounts["cache"], want)
	}
	st := statfs(t, dir)
	if st.Type != unix.TMPFS_MAGIC || st.Blocks*uint64(st.Bsize) != 8<<20 {
		t.Fatalf("%s: filesystem %#x of %d bytes, want a tmpfs of 8 MiB", dir, st.Type, st.Blocks*uint64(st.Bsize))
	}
	if info, err := os.Stat(dir); err != nil || info.Mode()&os.ModePerm != 0o777 || info.Mode()&os.ModeSticky == 0 {
		t.Errorf("tmpfs root mode %v (%v), want 1777", info.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("in memory"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(pod, nil, Fields{}); err != nil {
		t.Fatal(err)
	}
	if n := mountsAt(t, dir); n != 1 {
		t.Errorf("%d mounts at %s after a second Setup, want 1", n, dir)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "data")); err != nil || string(got) != "in memory" {
		t.Errorf("data after a second Setup: %q, %v", got, err)
	}
	if uids, err := m.Pods(); err != nil || len(uids) != 1 || uids[0] != testUID {
		t.Errorf("Pods = %q, %v", uids, err)
	}
	if err := m.Teardown(testUID); err != nil {
		t.Fatal(err)
	}
	if n := mountsAt(t, dir); n != 0 {
		t.Errorf("%d mounts at %s after Teardown", n, dir)
	}
	if _, err := os.Lstat(m.RunDir(testUID)); !os.IsNotExist(err) {
		t.Errorf("run directory after Teardown: %v", err)
	}
}

func TestMemoryEmptyDirFSGroup(t *testing.T) {
	requireMounts(t)
	m := newRunManager(t)
	gid := int64(2000)
	pod := newPod(memoryVolume("cache", "1Mi"))
	pod.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: &gid}
	mounts, err := m.Setup(pod, nil, Fields{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(mounts["cache"].HostPath)
	if err != nil {
		t.Fatal(err)
	}
	want := os.ModeDir | os.ModeSticky | os.ModeSetgid | 0o777
	if info.Mode() != want || gidAt(t, mounts["cache"].HostPath) != gid {
		t.Errorf("tmpfs root %v group %d, want %v group %d", info.Mode(), gidAt(t, mounts["cache"].HostPath), want, gid)
	}
}

func TestMemoryEmptyDirRefusals(t *testing.T) {
	_, err := newManager(t).Setup(newPod(memoryVolume("cache", "")), nil, Fields{})
	requireErrContains(t, err, "volume cache:", "a memory-backed volume needs a directory for in-memory mounts")
	huge := v1.Volume{Name: "huge", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumHugePages}}}
	_, err = newManager(t).Setup(newPod(huge), nil, Fields{})
	requireErrContains(t, err, "volume huge:", `emptyDir medium "HugePages" is not supported on this node`)
	_, err = Manager{Root: "/pods", RunRoot: "run"}.Setup(newPod(memoryVolume("cache", "")), nil, Fields{})
	requireErrContains(t, err, `in-memory volume root "run" is not an absolute path`)
}

// TestTeardownUnmountsRunDir: whatever is mounted in the pod's run
// directory (a tmpfs, a file bind such as a namespace pin) is unmounted and
// the directory removed; another pod's mounts stay.
func TestTeardownUnmountsRunDir(t *testing.T) {
	requireMounts(t)
	m := newRunManager(t)
	other := filepath.Join(m.RunRoot, testUID+"0", "shm")
	for _, d := range []string{filepath.Join(m.RunDir(testUID), "shm"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("shm", d, "tmpfs", 0, "size=64k"); err != nil {
			t.Fatal(err)
		}
	}
	pin := filepath.Join(m.RunDir(testUID), "pin")
	if err := os.WriteFile(pin, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/proc/self/ns/ipc", pin, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(testUID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(m.RunDir(testUID)); !os.IsNotExist(err) {
		t.Errorf("run directory after Teardown: %v", err)
	}
	if mountsAt(t, other) != 1 {
		t.Error("another pod's mount went too")
	}
}

// mountsAt counts the mounts at dir in this mount namespace.
func mountsAt(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			n++
		}
	}
	return n
}
