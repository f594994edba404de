package main

import (
	"path/filepath"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/edged"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/events"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// edgedConfig takes edged's settings from modules.edged: the node, the
// runtime endpoint, image garbage collection, log limits and events; the
// rest is the gateway's layout.
func edgedConfig(cfg *config.EdgeCoreConfig, objects edged.Objects) edged.Config {
	out := edged.DefaultConfig()
	out.Objects = objects
	out.NodeName = cfg.NodeName()
	e := cfg.Modules.Edged
	if e == nil {
		return out
	}
	k := e.Kubelet()
	out.Enable = e.Enable
	out.NodeIP = e.NodeIP
	out.Runtime.Endpoint = k.ContainerRuntimeEndpoint
	out.ImageGCHigh, out.ImageGCLow = k.ImageGCHighThresholdPercent, k.ImageGCLowThresholdPercent
	out.Logs = containerlog.Limits{MaxBytes: k.ContainerLogMaxSize, MaxFiles: k.ContainerLogMaxFiles}
	out.Events = events.Config{Enable: e.ReportEvent, QPS: k.EventRecordQPS, Burst: k.EventBurst}
	out.Allocatable = nodeAllocatable(nodeStatusConfig(cfg))
	// rootDirectory is the kubelet's --root-dir, which keeps pods/<uid>.
	// The gateway keeps pods in /var/lib/edgegate/pods; a rootDirectory
	// other than the kubelet's default moves them to <rootDirectory>/pods.
	if d := e.RootDirectory; d != "" && d != config.DefaultRootDirectory {
		out.PodsDir = filepath.Join(d, "pods")
	}
	return out
}

// nodeAllocatable reads the node's allocatable cpu and memory as the node
// status reports them (capacity less the memory.available hard eviction
// threshold), for edged's memory-backed volumes and downward API.
func nodeAllocatable(ns nodestatus.Config) func() (v1.ResourceList, error) {
	return func() (v1.ResourceList, error) {
		f, err := ns.Machine.Facts()
		if err != nil {
			return nil, err
		}
		memory := f.MemTotal
		if ns.Eviction != nil {
			memory -= ns.Eviction.MemoryAvailable.Of(f.MemTotal)
		}
		return v1.ResourceList{
			v1.ResourceCPU:    *resource.NewQuantity(int64(f.CPUs), resource.DecimalSI),
			v1.ResourceMemory: *resource.NewQuantity(max(0, memory), resource.BinarySI),
		}, nil
	}
}
