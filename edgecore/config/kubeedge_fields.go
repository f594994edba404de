package config

// kubeEdgeOnlyFields are the fields of KubeEdge's v1alpha2 EdgeCore schema
// (v1.21–v1.23) that edgegate does not model. A file `keadm join` wrote
// carries them; they load, are reported once as ignored, and survive the
// file edits edgecore makes (token, edgecoreVersion). Anything that is
// neither modelled nor listed here is a typo and rejected.
//
// Sections modelled as free-form (tailoredKubeletConfig, featureGates,
// nodeLabels) are not walked, so they need no entries.
func kubeEdgeOnlyFields() map[string]bool {
	return map[string]bool{
		// modules.edged.tailoredKubeletFlag: kubelet flags KubeEdge keeps
		// (TailoredKubeletFlag and its inlined ContainerRuntimeOptions).
		"modules.edged.tailoredKubeletFlag.kubeConfig":                                         true,
		"modules.edged.tailoredKubeletFlag.certDirectory":                                      true,
		"modules.edged.tailoredKubeletFlag.kubeletConfigFile":                                  true,
		"modules.edged.tailoredKubeletFlag.registerNode":                                       true,
		"modules.edged.tailoredKubeletFlag.registerWithTaints":                                 true,
		"modules.edged.tailoredKubeletFlag.windowsService":                                     true,
		"modules.edged.tailoredKubeletFlag.windowsPriorityClass":                               true,
		"modules.edged.tailoredKubeletFlag.remoteRuntimeEndpoint":                              true,
		"modules.edged.tailoredKubeletFlag.remoteImageEndpoint":                                true,
		"modules.edged.tailoredKubeletFlag.experimentalMounterPath":                            true,
		"modules.edged.tailoredKubeletFlag.experimentalCheckNodeCapabilitiesBeforeMount":       true,
		"modules.edged.tailoredKubeletFlag.experimentalNodeAllocatableIgnoreEvictionThreshold": true,
		"modules.edged.tailoredKubeletFlag.lockFilePath":                                       true,
		"modules.edged.tailoredKubeletFlag.exitOnLockContention":                               true,
		"modules.edged.tailoredKubeletFlag.seccompProfileRoot":                                 true,
		"modules.edged.tailoredKubeletFlag.minimumGCAge":                                       true,
		"modules.edged.tailoredKubeletFlag.maxPerPodContainerCount":                            true,
		"modules.edged.tailoredKubeletFlag.maxContainerCount":                                  true,
		"modules.edged.tailoredKubeletFlag.masterServiceNamespace":                             true,
		"modules.edged.tailoredKubeletFlag.registerSchedulable":                                true,
		"modules.edged.tailoredKubeletFlag.nonMasqueradeCidr":                                  true,
		"modules.edged.tailoredKubeletFlag.keepTerminatedPodVolumes":                           true,
		"modules.edged.tailoredKubeletFlag.seccompDefault":                                     true,
		"modules.edged.tailoredKubeletFlag.containerRuntime":                                   true,
		"modules.edged.tailoredKubeletFlag.runtimeCgroups":                                     true,
		"modules.edged.tailoredKubeletFlag.dockershimRootDirectory":                            true,
		"modules.edged.tailoredKubeletFlag.dockerEndpoint":                                     true,
		"modules.edged.tailoredKubeletFlag.imagePullProgressDeadline":                          true,
		"modules.edged.tailoredKubeletFlag.networkPluginName":                                  true,
		"modules.edged.tailoredKubeletFlag.networkPluginMTU":                                   true,
		"modules.edged.tailoredKubeletFlag.cniConfDir":                                         true,
		"modules.edged.tailoredKubeletFlag.cniBinDir":                                          true,
		"modules.edged.tailoredKubeletFlag.cniCacheDir":                                        true,
		"modules.edged.tailoredKubeletFlag.imageCredentialProviderConfigFile":                  true,
		"modules.edged.tailoredKubeletFlag.imageCredentialProviderBinDir":                      true,

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
