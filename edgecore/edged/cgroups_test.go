package edged

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// On a v1 host the spec keeps its v1 limits and loses the unified keys
// runc refuses there; on cgroup2 it is left alone.
func TestWithoutUnified(t *testing.T) {
	limit, quota := int64(64<<20), int64(50000)
	spec := func() *oci.Spec {
		return &oci.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: &limit},
			CPU:     &specs.LinuxCPU{Quota: &quota},
			Unified: map[string]string{"memory.oom.group": "1"},
		}}}
	}
	for _, tt := range []struct {
		name        string
		opts        []oci.SpecOpts
		wantUnified bool
	}{
		{"cgroup2 keeps memory.oom.group", nil, true},
		{"cgroup v1 drops it", []oci.SpecOpts{withoutUnified}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := spec()
			for _, o := range tt.opts {
				if err := o(context.Background(), nil, nil, s); err != nil {
					t.Fatal(err)
				}
			}
			r := s.Linux.Resources
			if r.Memory == nil || *r.Memory.Limit != limit || r.CPU == nil || *r.CPU.Quota != quota {
				t.Fatalf("limits lost: %+v", r)
			}
			if got := r.Unified != nil; got != tt.wantUnified {
				t.Errorf("unified %v, want some: %v", r.Unified, tt.wantUnified)
			}
		})
	}
	// A spec without resources is left alone.
	if err := withoutUnified(context.Background(), nil, nil, &oci.Spec{}); err != nil {
		t.Fatal(err)
	}
}

// cgroupV2 agrees with the mount table: the filesystem mounted at
// /sys/fs/cgroup is cgroup2 exactly when it says so.
func TestCgroupV2(t *testing.T) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Skip(err)
	}
	fstype := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 10 || f[4] != cgroupRoot {
			continue
		}
		for i, x := range f {
			if x == "-" && i+1 < len(f) {
				fstype = f[i+1] // the last mount there is the one seen
			}
		}
	}
	if got, want := cgroupV2(cgroupRoot), fstype == "cgroup2"; got != want {
		t.Errorf("cgroupV2(%s) = %v; the mount table says %q", cgroupRoot, got, fstype)
	}
	if cgroupV2(t.TempDir()) {
		t.Error("a plain directory taken for a cgroup2 hierarchy")
	}
}
