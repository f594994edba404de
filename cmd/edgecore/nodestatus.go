package main

import (
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// nodeStatusConfig takes what KubeEdge's edged uses for node registration
// and status from modules.edged. The reporter runs whenever there is a cloud
// to report to (edgeHub enabled).
func nodeStatusConfig(cfg *config.EdgeCoreConfig) nodestatus.Config {
	m := cfg.Modules
	out := nodestatus.Config{
		Enable:   m.EdgeHub != nil && m.EdgeHub.Enable,
		NodeName: cfg.NodeName(),
	}
	if e := m.Edged; e != nil {
		out.Namespace = e.RegisterNodeNamespace
		out.Labels = e.TailoredKubeletFlag.NodeLabels
		if s, ok := e.TailoredKubeletConfig["nodeStatusUpdateFrequency"].(string); ok {
			d, err := time.ParseDuration(s)
			if err != nil {
				klog.Warningf("modules.edged.tailoredKubeletConfig.nodeStatusUpdateFrequency %q: %v; using the default", s, err)
			}
			out.UpdateFrequency = d
		}
	}
	return out
}
