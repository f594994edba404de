package main

import (
	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/edged"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
)

// edgedConfig takes edged's settings from modules.edged: the node, the
// runtime endpoint, image garbage collection and log limits; the rest is
// the gateway's layout.
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
	return out
}
