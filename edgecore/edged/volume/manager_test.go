package volume

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

func TestEmptyDir(t *testing.T) {
	tests := []struct {
		name   string
		source v1.VolumeSource
	}{
		{"disk", v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		{"disk with a sizeLimit (enforced by eviction, not here)", v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: ptr(resource.MustParse("1Mi"))}}},
		{"no source is an emptyDir, as API defaulting makes it", v1.VolumeSource{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newManager(t)
			vol := v1.Volume{Name: "scratch", VolumeSource: tc.source}
			mount, err := setupOne(t, m, nil, vol)
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			want := filepath.Join(m.Root, testUID, "volumes", "kubernetes.io~empty-dir", "scratch")
			if mount.HostPath != want || mount.ReadOnly {
				t.Errorf("mount = %+v, want %s writable", mount, want)
			}
			if got := modeAt(t, want, ""); got != 0o777 {
				t.Errorf("mode = %v, want 0777", got)
			}
			data := filepath.Join(want, "data")
			if err := os.WriteFile(data, []byte("kept"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(want, 0o700); err != nil { // a container's choice
				t.Fatal(err)
			}
			if _, err := setupOne(t, m, nil, vol); err != nil {
				t.Fatalf("second Setup: %v", err)
			}
			if got, err := os.ReadFile(data); err != nil || string(got) != "kept" {
				t.Errorf("emptyDir data after second Setup = %q, %v", got, err)
			}
			if got := modeAt(t, want, ""); got != 0o700 {
				t.Errorf("mode after second Setup = %v, want the container's 0700 kept", got)
			}
		})
	}
}

func TestUnsupportedVolumeTypes(t *testing.T) {
	tests := []struct {
		source v1.VolumeSource
		want   string
	}{
		{v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}, "persistentVolumeClaim"},
		{v1.VolumeSource{NFS: &v1.NFSVolumeSource{Server: "s", Path: "/"}}, "nfs"},
		{v1.VolumeSource{CSI: &v1.CSIVolumeSource{Driver: "d"}}, "csi"},
		{v1.VolumeSource{GitRepo: &v1.GitRepoVolumeSource{Repository: "r"}}, "gitRepo"},
		{v1.VolumeSource{Ephemeral: &v1.EphemeralVolumeSource{}}, "ephemeral"},
		{v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: "i"}}, "image"},
		{v1.VolumeSource{CephFS: &v1.CephFSVolumeSource{}}, "cephfs"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			_, err := setupOne(t, newManager(t), nil, v1.Volume{Name: "data", VolumeSource: tc.source})
			requireErrContains(t, err, "volume data: type "+tc.want+" is not supported on this node")
		})
	}
}

func TestSetupReportsEveryBadVolume(t *testing.T) {
	pod := newPod(
		v1.Volume{Name: "good", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		v1.Volume{Name: "claim", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
		v1.Volume{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "absent"}}}},
	)
	mounts, err := newManager(t).Setup(pod, fakeSources{}, Fields{})
	requireErrContains(t, err, "pod ns/web", "volume claim: type persistentVolumeClaim", "volume cfg: configmap ns/absent")
	if mounts != nil {
		t.Errorf("mounts = %v on error, want nil", mounts)
	}
}

func TestSetupRefuses(t *testing.T) {
	tests := []struct {
		name string
		m    Manager
		pod  *v1.Pod
		want string
	}{
		{"no pod", Manager{Root: "/x"}, nil, "no pod"},
		{"relative root", Manager{Root: "pods"}, newPod(), "not an absolute path"},
		{"empty root", Manager{}, newPod(), "not an absolute path"},
		{"no uid", Manager{Root: t.TempDir()}, func() *v1.Pod { p := newPod(); p.UID = ""; return p }(), "pod has no UID"},
		{"uid with a slash", Manager{Root: t.TempDir()}, func() *v1.Pod { p := newPod(); p.UID = "../../etc"; return p }(), "not a single path element"},
		{"volume name with a slash", Manager{Root: t.TempDir()}, newPod(v1.Volume{Name: "../x", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}), "not a single path element"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Setup(tc.pod, nil, Fields{})
			requireErrContains(t, err, tc.want)
		})
	}
}

// fullPod has a volume of every supported kind.
func fullPod(t *testing.T) (*v1.Pod, Sources) {
	src := fakeSources{
		configMaps: map[string]*v1.ConfigMap{
			testNS + "/cfg":                configMap("cfg", map[string]string{"a": "1"}, map[string][]byte{"b": {2}}),
			testNS + "/" + rootCAConfigMap: configMap(rootCAConfigMap, map[string]string{"ca.crt": "PEM"}, nil),
		},
		secrets: map[string]*v1.Secret{testNS + "/sec": secret("sec", map[string][]byte{"k": []byte("v")})},
	}
	pod := newPod(
		v1.Volume{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		v1.Volume{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: t.TempDir(), Type: ptr(v1.HostPathDirectory)}}},
		v1.Volume{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}}}},
		v1.Volume{Name: "sec", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "sec", Items: []v1.KeyToPath{{Key: "k", Path: "dir/k"}}}}},
		v1.Volume{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
			{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		}}}},
		kubeAPIAccess("kube-api-access-abcde"),
	)
	pod.Spec.ServiceAccountName = "default"
	pod.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/app"},
		{Name: "scratch", MountPath: "/etc/app/cache"},
	}
	return pod, src
}

// TestSetupIsIdempotent runs Setup twice on unchanged sources: the second run
// must not rewrite, chmod, chown, create or remove anything.
func TestSetupIsIdempotent(t *testing.T) {
	m := newManager(t)
	pod, src := fullPod(t)
	first, err := m.Setup(pod, src, Fields{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	before := snapshot(t, m.Root)
	// Longer than the coarsest kernel timestamp granularity, so that a
	// rewrite could not keep the same times.
	time.Sleep(30 * time.Millisecond)
	second, err := m.Setup(pod, src, Fields{})
	if err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	if !maps.Equal(first, second) {
		t.Errorf("mounts changed: %v then %v", first, second)
	}
	after := snapshot(t, m.Root)
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s disappeared", p)
		} else if a != b {
			t.Errorf("%s changed: %+v -> %+v", p, b, a)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
	want := []string{"cfg", "host", "info", "kube-api-access-abcde", "scratch", "sec"}
	if got := slices.Sorted(maps.Keys(second)); !slices.Equal(got, want) {
		t.Errorf("mounts for %q, want %q", got, want)
	}
}

func TestNestedMountpoints(t *testing.T) {
	pod := newPod()
	pod.Spec.InitContainers = []v1.Container{{Name: "init", VolumeMounts: []v1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/app/"},
		{Name: "logs", MountPath: "/etc/app/logs"},
	}}}
	pod.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/app"},
		{Name: "data", MountPath: "/etc/app/data"},
		{Name: "deep", MountPath: "/etc/app/data/deeper"},
		{Name: "sibling", MountPath: "/etc/application"},
		{Name: "cfg", MountPath: "/srv/cfg"},
		{Name: "x", MountPath: "/srv/cfg/a/b"},
	}
	got, err := nestedMountpoints(pod, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a/b", "data", "logs"}; !slices.Equal(got, want) {
		t.Errorf("nestedMountpoints = %q, want %q", got, want)
	}
	pod.Spec.Containers[0].VolumeMounts = append(pod.Spec.Containers[0].VolumeMounts, v1.VolumeMount{Name: "cfg", MountPath: "../up"})
	_, err = nestedMountpoints(pod, "cfg")
	requireErrContains(t, err, "invalid container mount point ../up")
}

// TestNestedMountpointSurvivesUpdate: the directory made for a nested mount
// in a configMap volume stays when the content is updated.
func TestNestedMountpointSurvivesUpdate(t *testing.T) {
	m := newManager(t)
	pod, src := fullPod(t)
	mounts, err := m.Setup(pod, src, Fields{})
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(mounts["cfg"].HostPath, "cache")
	if info, err := os.Lstat(cache); err != nil || !info.IsDir() {
		t.Fatalf("nested mount point %s: %v", cache, err)
	}
	src.(fakeSources).configMaps[testNS+"/cfg"] = configMap("cfg", map[string]string{"a": "changed"}, nil)
	if _, err := m.Setup(pod, src, Fields{}); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(cache); err != nil || !info.IsDir() {
		t.Errorf("nested mount point gone after update: %v", err)
	}
	if got := visible(t, mounts["cfg"].HostPath); got["a"] != "changed" {
		t.Errorf("a = %q after update", got["a"])
	}
}

func TestFSGroup(t *testing.T) {
	requireRoot(t, "giving files an arbitrary group")
	const gid = 4321
	m := newManager(t)
	pod, src := fullPod(t)
	pod.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr[int64](gid)}
	pod.Spec.Volumes[2].ConfigMap.DefaultMode = ptr[int32](0o400)
	mounts, err := m.Setup(pod, src, Fields{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	scratch := mounts["scratch"].HostPath
	if got := modeAt(t, scratch, ""); got != 0o777|os.ModeSetgid {
		t.Errorf("emptyDir mode = %v, want setgid 0777", got)
	}
	cfg := mounts["cfg"].HostPath
	data := filepath.Join(cfg, readLink(t, filepath.Join(cfg, dataLink)))
	checks := []struct {
		path string
		mode os.FileMode
	}{
		{scratch, 0o777 | os.ModeSetgid},
		{cfg, 0o777 | os.ModeSetgid},
		{data, 0o755 | os.ModeSetgid},
		{filepath.Join(data, "a"), 0o440},
		{filepath.Join(mounts["sec"].HostPath, "dir", "k"), 0o644},
	}
	for _, c := range checks {
		if got := gidAt(t, c.path); got != gid {
			t.Errorf("group of %s = %d, want %d", c.path, got, gid)
		}
		info, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := modeOf(info); got != c.mode {
			t.Errorf("mode of %s = %v, want %v", c.path, got, c.mode)
		}
	}
	before := snapshot(t, m.Root)
	time.Sleep(30 * time.Millisecond)
	if _, err := m.Setup(pod, src, Fields{}); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, m.Root); !maps.Equal(before, after) {
		t.Error("second Setup with fsGroup changed the volumes")
	}
}

func TestTeardown(t *testing.T) {
	m := newManager(t)
	pod, src := fullPod(t)
	hostDir := pod.Spec.Volumes[1].HostPath.Path
	if err := os.WriteFile(filepath.Join(hostDir, "keep"), []byte("host data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(pod, src, Fields{}); err != nil {
		t.Fatal(err)
	}
	// A link to host data in the pod directory is removed, not followed.
	if err := os.Symlink(hostDir, filepath.Join(m.PodDir(testUID), "host-link")); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(testUID); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Lstat(m.PodDir(testUID)); !os.IsNotExist(err) {
		t.Errorf("pod directory still there: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(hostDir, "keep")); err != nil || string(got) != "host data" {
		t.Errorf("host data after Teardown: %q, %v", got, err)
	}
	if err := m.Teardown(testUID); err != nil {
		t.Errorf("Teardown of a removed pod: %v", err)
	}
}

func TestTeardownRefusesUnsafeUIDs(t *testing.T) {
	root := t.TempDir()
	m := Manager{Root: filepath.Join(root, "pods")}
	victim := filepath.Join(root, "victim")
	if err := os.MkdirAll(filepath.Join(m.Root, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(victim, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"", ".", "..", "../victim", "x/..", "/", victim, "a/b", `a\b`, "a\x00b"} {
		if err := m.Teardown(uid); err == nil {
			t.Errorf("Teardown(%q) accepted", uid)
		}
	}
	for _, p := range []string{m.Root, victim, filepath.Join(m.Root, "x")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s after refused Teardowns: %v", p, err)
		}
	}
	if err := (Manager{Root: "relative"}).Teardown(testUID); err == nil {
		t.Error("Teardown with a relative root accepted")
	}
}

func TestTeardownRefusesMountPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs; not in -short")
	}
	requireRoot(t, "mounting a tmpfs")
	m := newManager(t)
	mounts, err := setupOne(t, m, nil, v1.Volume{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mounts.HostPath, "tmpfs", 0, ""); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(mounts.HostPath, syscall.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(mounts.HostPath, "other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	requireErrContains(t, m.Teardown(testUID), "is a mount point")
	if _, err := os.Stat(filepath.Join(mounts.HostPath, "other")); err != nil {
		t.Errorf("data under the mount point: %v", err)
	}
}

func TestPods(t *testing.T) {
	m := newManager(t)
	if got, err := m.Pods(); err != nil || got != nil {
		t.Fatalf("Pods without a root = %q, %v; want none", got, err)
	}
	for _, uid := range []types.UID{"b-uid", "a-uid"} {
		pod := newPod(v1.Volume{Name: "v", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}})
		pod.UID = uid
		if _, err := m.Setup(pod, nil, Fields{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(m.Root, "stray-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := m.Pods()
	if err != nil || !slices.Equal(got, []string{"a-uid", "b-uid"}) {
		t.Errorf("Pods = %q, %v; want a-uid, b-uid", got, err)
	}
	if err := m.Teardown("a-uid"); err != nil {
		t.Fatal(err)
	}
	if got, err := m.Pods(); err != nil || !slices.Equal(got, []string{"b-uid"}) {
		t.Errorf("Pods after Teardown = %q, %v; want b-uid", got, err)
	}
	if m.PodDir("b-uid") != filepath.Join(m.Root, "b-uid") {
		t.Errorf("PodDir = %s", m.PodDir("b-uid"))
	}
}

func TestPodDirMode(t *testing.T) {
	m := newManager(t)
	if _, err := setupOne(t, m, nil, v1.Volume{Name: "v"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{m.PodDir(testUID), filepath.Join(m.PodDir(testUID), "volumes")} {
		if got := modeAt(t, p, ""); got != 0o750 {
			t.Errorf("mode of %s = %v, want 0750", p, got)
		}
	}
}
