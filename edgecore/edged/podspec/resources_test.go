package podspec

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestOptsResources(t *testing.T) {
	list := func(cpu, mem string) v1.ResourceList {
		l := v1.ResourceList{}
		if cpu != "" {
			l[v1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[v1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	cases := []struct {
		name             string
		requests, limits v1.ResourceList
		shares           uint64
		quota            int64 // 0: unset
		memory           int64 // 0: unset
	}{
		{name: "best effort gets the minimum shares", shares: 2},
		{name: "cpu request", requests: list("250m", ""), shares: 256},
		{name: "tiny cpu request is at least 2 shares", requests: list("1m", ""), shares: 2},
		{name: "cpu limit only: shares from the limit", limits: list("500m", ""), shares: 512, quota: 50000},
		{name: "request and limit", requests: list("1", ""), limits: list("2", ""), shares: 1024, quota: 200000},
		{name: "tiny limit gets the minimum quota", requests: list("1m", ""), limits: list("1m", ""), shares: 2, quota: 1000},
		{name: "huge request is capped", requests: list("300", ""), shares: 262144},
		{name: "memory limit", requests: list("", "64Mi"), limits: list("", "128Mi"), shares: 2, memory: 128 << 20},
		{name: "explicit zero cpu request with a limit", requests: list("0", ""), limits: list("1", ""), shares: 2, quota: 100000},
		{name: "hugepages are ignored", limits: v1.ResourceList{"hugepages-2Mi": resource.MustParse("4Mi")}, shares: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(func(in *Input) {
				in.Container.Resources = v1.ResourceRequirements{Requests: tc.requests, Limits: tc.limits}
			}))
			r := s.Linux.Resources
			if r.CPU == nil || r.CPU.Shares == nil || *r.CPU.Shares != tc.shares {
				t.Errorf("shares = %v, want %d", r.CPU.Shares, tc.shares)
			}
			if r.CPU.Period == nil || *r.CPU.Period != 100000 {
				t.Errorf("period = %v, want 100000", r.CPU.Period)
			}
			switch {
			case tc.quota == 0 && r.CPU.Quota != nil:
				t.Errorf("quota = %d, want unset", *r.CPU.Quota)
			case tc.quota != 0 && (r.CPU.Quota == nil || *r.CPU.Quota != tc.quota):
				t.Errorf("quota = %v, want %d", r.CPU.Quota, tc.quota)
			}
			var memory int64
			if r.Memory != nil && r.Memory.Limit != nil {
				memory = *r.Memory.Limit
			}
			if memory != tc.memory {
				t.Errorf("memory limit = %d, want %d", memory, tc.memory)
			}
			if r.Unified["memory.oom.group"] != "1" {
				t.Errorf("unified = %v, want memory.oom.group=1", r.Unified)
			}
			if len(r.HugepageLimits) != 0 || r.Pids != nil {
				t.Errorf("hugepages %v, pids %v: want unset", r.HugepageLimits, r.Pids)
			}
		})
	}
}

func TestOptsCgroupsPath(t *testing.T) {
	if got := generate(t, testInput()).Linux.CgroupsPath; got != "/edgegate/poduid-1/app" {
		t.Errorf("CgroupsPath = %q, want the given one", got)
	}
	if got := generate(t, testInput(func(in *Input) { in.CgroupsPath = "" })).Linux.CgroupsPath; got != "/edgegate/c1" {
		t.Errorf("CgroupsPath = %q, want containerd's default /edgegate/c1", got)
	}
}
