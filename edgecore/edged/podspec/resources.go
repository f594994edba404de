package podspec

import (
	"context"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

// kubelet's CPU conversion constants (pkg/kubelet/cm).
const (
	minShares     = 2
	maxShares     = 262144
	sharesPerCPU  = 1024
	milliCPUToCPU = 1000
	// quotaPeriod is the CFS period kubelet uses (100 ms, in µs) unless
	// the CPUCFSQuotaPeriod gate changes it.
	quotaPeriod = 100000
	// minQuota is the smallest CFS quota kubelet sets (1 ms).
	minQuota = 1000
)

// resourceOpts sets the container's cgroup limits from its resources, as
// kubelet computes them (cpuCFSQuota on, the default):
//   - cpu shares from the cpu request, or from the limit when only the
//     limit is set, at least 2 (also for containers without either);
//   - the CFS period always 100000 µs, the quota only with a cpu limit;
//   - the memory limit in bytes when set;
//   - memory.oom.group=1, kubelet's default on cgroup v2
//     (singleProcessOOMKill false): an OOM kills the whole container.
//
// Hugepages, swap and the QoS OOM score are left alone.
func resourceOpts(c *v1.Container) oci.SpecOpts {
	var (
		shares = cpuShares(c.Resources)
		period = uint64(quotaPeriod)
		quota  = cpuQuota(c.Resources.Limits.Cpu().MilliValue())
		memory = c.Resources.Limits.Memory().Value()
	)
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Resources == nil {
			s.Linux.Resources = &specs.LinuxResources{}
		}
		r := s.Linux.Resources
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		r.CPU.Shares = &shares
		r.CPU.Period = &period
		if quota != 0 {
			r.CPU.Quota = &quota
		}
		if memory != 0 {
			if r.Memory == nil {
				r.Memory = &specs.LinuxMemory{}
			}
			r.Memory.Limit = &memory
		}
		if r.Unified == nil {
			r.Unified = map[string]string{}
		}
		r.Unified["memory.oom.group"] = "1"
		return nil
	}
}

func cpuShares(res v1.ResourceRequirements) uint64 {
	if _, ok := res.Requests[v1.ResourceCPU]; !ok {
		if limit, ok := res.Limits[v1.ResourceCPU]; ok {
			return milliCPUToShares(limit.MilliValue())
		}
	}
	return milliCPUToShares(res.Requests.Cpu().MilliValue())
}

func milliCPUToShares(milliCPU int64) uint64 {
	shares := milliCPU * sharesPerCPU / milliCPUToCPU
	return uint64(min(max(shares, minShares), maxShares))
}

func cpuQuota(milliCPU int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	return max(milliCPU*quotaPeriod/milliCPUToCPU, minQuota)
}
