package main

import (
	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/edged"
)

// edgedConfig takes edged's settings from modules.edged: the node, the
// runtime endpoint; the rest is the gateway's layout.
func edgedConfig(cfg *config.EdgeCoreConfig, objects edged.Objects) edged.Config {
	out := edged.DefaultConfig()
	out.Objects = objects
	out.NodeName = cfg.NodeName()
	e := cfg.Modules.Edged
	if e == nil {
		return out
	}
	out.Enable = e.Enable
	out.NodeIP = e.NodeIP
	out.Runtime.Endpoint = e.Kubelet().ContainerRuntimeEndpoint
	return out
}
