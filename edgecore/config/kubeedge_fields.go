package config

// kubeEdgeOnlyFields are the fields of KubeEdge's v1alpha2 EdgeCore schema
// (v1.21–v1.23, read from the types at each tag) that edgegate does not
// model. A file `keadm join` wrote
// carries them; they load, are reported once as ignored, and survive the
// file edits edgecore makes (token, edgecoreVersion). Anything that is
// neither modelled nor listed here is a typo and rejected.
//
// Sections modelled as free-form (tailoredKubeletConfig, featureGates,
// nodeLabels) are not walked, so they need no entries.
func kubeEdgeOnlyFields() map[string]bool {
	return map[string]bool{
		// modules.edged: the tailored kubelet flags KubeEdge inlines there
		// (TailoredKubeletFlag and its ContainerRuntimeOptions; the same
		// set in v1.21, v1.22 and v1.23).
		"modules.edged.windowsService":                                     true,
		"modules.edged.windowsPriorityClass":                               true,
		"modules.edged.experimentalMounterPath":                            true,
		"modules.edged.experimentalNodeAllocatableIgnoreEvictionThreshold": true,
		"modules.edged.keepTerminatedPodVolumes":                           true,
		"modules.edged.minimumGCAge":                                       true,
		"modules.edged.maxPerPodContainerCount":                            true,
		"modules.edged.maxContainerCount":                                  true,
		"modules.edged.registerSchedulable":                                true,
		"modules.edged.seccompDefault":                                     true,
		"modules.edged.runtimeCgroups":                                     true,

		// modules.eventBus: MQTT client identity.
		"modules.eventBus.mqttSubClientID": true,
		"modules.eventBus.mqttPubClientID": true,
		"modules.eventBus.mqttUsername":    true,
		"modules.eventBus.mqttPassword":    true,

		// modules.metaManager.metaServer: its own TLS and token settings.
		"modules.metaManager.metaServer.tlsCaFile":              true,
		"modules.metaManager.metaServer.tlsCertFile":            true,
		"modules.metaManager.metaServer.tlsPrivateKeyFile":      true,
		"modules.metaManager.metaServer.apiAudiences":           true,
		"modules.metaManager.metaServer.serviceAccountKeyFiles": true,

		// modules.edgeStream: the tunnel's certificates.
		"modules.edgeStream.tlsTunnelCAFile":         true,
		"modules.edgeStream.tlsTunnelCertFile":       true,
		"modules.edgeStream.tlsTunnelPrivateKeyFile": true,
	}
}
