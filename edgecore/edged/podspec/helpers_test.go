package podspec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The image's /etc/passwd and /etc/group in the test root filesystem.
const (
	testPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1001::/home/app:/bin/sh\n"
	testGroup = "root:x:0:root\n" +
		"wheel:x:10:root,app\n" +
		"app:x:1001:\n" +
		"video:x:44:app\n"
)

// testIPC is the test pod's IPC namespace file.
const testIPC = "/run/edgegate/pods/uid-1/ipc"

// testInput is a pod on the pod network with one container "app" and the
// given mutations applied.
func testInput(mutate ...func(*Input)) Input {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "ns", UID: "uid-1"},
		Spec: v1.PodSpec{
			Containers: []v1.Container{{Name: "app", Image: "example/app:1"}},
		},
	}
	in := Input{
		Pod:       pod,
		Container: &pod.Spec.Containers[0],
		Image: ocispec.ImageConfig{
			Entrypoint: []string{"/app"},
			Cmd:        []string{"serve"},
			Env:        []string{"PATH=/app/bin:/bin", "IMAGE=1"},
			WorkingDir: "/srv",
		},
		Volumes:     map[string]Mount{},
		NetNS:       "/run/netns/edgegate-uid-1",
		IPC:         testIPC,
		Shm:         "/run/edgegate/pods/uid-1/shm",
		CgroupsPath: "/edgegate/poduid-1/app",
	}
	for _, m := range mutate {
		m(&in)
	}
	return in
}

// generate applies Opts(in) to containerd's default spec, over a root
// filesystem with testPasswd and testGroup.
func generate(t *testing.T, in Input) *specs.Spec {
	t.Helper()
	opts, err := Opts(in)
	if err != nil {
		t.Fatalf("Opts: %v", err)
	}
	s, err := apply(t, opts)
	if err != nil {
		t.Fatalf("GenerateSpec: %v", err)
	}
	return s
}

func apply(t *testing.T, opts []oci.SpecOpts) (*specs.Spec, error) {
	t.Helper()
	rootfs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"passwd": testPasswd, "group": testGroup} {
		if err := os.WriteFile(filepath.Join(rootfs, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := namespaces.WithNamespace(context.Background(), "edgegate")
	return oci.GenerateSpec(ctx, nil, &containers.Container{ID: "c1"},
		append([]oci.SpecOpts{oci.WithRootFSPath(rootfs)}, opts...)...)
}

// wantConfigError checks that Opts(in) fails with a *ConfigError on field
// whose message mentions each of mention.
func wantConfigError(t *testing.T, in Input, field string, mention ...string) {
	t.Helper()
	_, err := Opts(in)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Opts error = %v, want a *ConfigError", err)
	}
	if ce.Field != field {
		t.Errorf("Field = %q, want %q (%v)", ce.Field, field, err)
	}
	if ce.Container != in.Container.Name {
		t.Errorf("Container = %q, want %q", ce.Container, in.Container.Name)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

func findMount(s *specs.Spec, dst string) (specs.Mount, bool) {
	i := slices.IndexFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == dst })
	if i < 0 {
		return specs.Mount{}, false
	}
	return s.Mounts[i], true
}

func countMounts(s *specs.Spec, dst string) int {
	n := 0
	for _, m := range s.Mounts {
		if m.Destination == dst {
			n++
		}
	}
	return n
}

func namespace(s *specs.Spec, typ specs.LinuxNamespaceType) (specs.LinuxNamespace, bool) {
	i := slices.IndexFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == typ })
	if i < 0 {
		return specs.LinuxNamespace{}, false
	}
	return s.Linux.Namespaces[i], true
}
