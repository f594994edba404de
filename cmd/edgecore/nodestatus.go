package main

import (
	"path/filepath"
	"sync"
	"time"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// nodeStatusConfig takes what KubeEdge's edged uses for node registration,
// status and lease from modules.edged. The reporter runs whenever there is
// a cloud to report to (edgeHub enabled).
func nodeStatusConfig(cfg *config.EdgeCoreConfig) nodestatus.Config {
	m := cfg.Modules
	out := nodestatus.Config{
		Enable:   m.EdgeHub != nil && m.EdgeHub.Enable,
		NodeName: cfg.NodeName(),
		Machine: nodestatus.Machine{
			FSPath:    config.DefaultRootDirectory,
			StateDir:  filepath.Dir(cfg.Database.DataSource),
			StorePath: cfg.Database.DataSource,
		},
	}
	e := m.Edged
	if e == nil {
		return out
	}
	k := e.Kubelet()
	out.Runtime = runtimeVersion(k.ContainerRuntimeEndpoint)
	out.Namespace = e.RegisterNodeNamespace
	out.Labels = e.NodeLabels
	out.NodeIP = e.NodeIP
	if e.RootDirectory != "" {
		out.Machine.FSPath = e.RootDirectory
	}
	out.Machine.UpdateStatusFile = e.UpdateStatusFile
	out.MaxPods = k.MaxPods
	out.UpdateFrequency = k.NodeStatusUpdateFrequency
	out.ReportFrequency = k.NodeStatusReportFrequency
	out.LeaseDuration = k.NodeLeaseDuration
	eviction := nodestatus.DefaultEviction()
	for signal, t := range k.EvictionHard {
		switch signal {
		case "memory.available":
			eviction.MemoryAvailable = t
		case "nodefs.available":
			eviction.NodeFSAvailable = t
		case "nodefs.inodesFree":
			eviction.NodeFSInodesFree = t
		case "pid.available":
			eviction.PIDAvailable = t
		}
	}
	if k.EvictionPressureTransitionPeriod > 0 {
		eviction.PressureTransition = k.EvictionPressureTransitionPeriod
	}
	out.Eviction = &eviction
	return out
}

// runtimeVersion reports containerd's version, asking the daemon until it
// answered once (it does not change while edgecore runs against it).
func runtimeVersion(endpoint string) func() string {
	var mu sync.Mutex
	known := ""
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		if known == "" {
			if v := containerd.RuntimeVersion(endpoint, 2*time.Second); v != "remote://" {
				known = v
			} else {
				return v
			}
		}
		return known
	}
}
