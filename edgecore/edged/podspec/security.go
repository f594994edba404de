package podspec

import (
	"fmt"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/containerd/containerd/v2/pkg/oci"
	v1 "k8s.io/api/core/v1"
)

// securityOpts turns the effective security context into spec options, in
// the order containerd's CRI plugin applies them: privilege escalation,
// /proc masking, capabilities, then privileged mode over them, the
// read-only root and last seccomp (whose default profile depends on the
// capabilities).
func securityOpts(pod *v1.Pod, c *v1.Container) ([]oci.SpecOpts, error) {
	sc := effectiveSecurityContext(pod, c)
	privileged := isTrue(sc.Privileged)
	if err := checkPrivilegeEscalation(c.Name, sc, privileged); err != nil {
		return nil, err
	}
	caps, err := capabilityOpts(c.Name, sc.Capabilities)
	if err != nil {
		return nil, err
	}
	if err := checkAppArmor(c.Name, pod, c); err != nil {
		return nil, err
	}

	// The default spec sets no_new_privs; kubelet only asks for it when
	// allowPrivilegeEscalation is false.
	opts := []oci.SpecOpts{oci.WithNewPrivileges}
	if isFalse(sc.AllowPrivilegeEscalation) {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	if sc.ProcMount != nil && *sc.ProcMount == v1.UnmaskedProcMount {
		opts = append(opts, oci.WithMaskedPaths(nil), oci.WithReadonlyPaths(nil))
	}
	opts = append(opts, caps...)
	if privileged {
		// What the CRI plugin does for a privileged container: every
		// capability the runtime holds, no masked or read-only paths,
		// writable sysfs and cgroupfs, no seccomp or AppArmor, and all the
		// host's devices, created in the container and allowed.
		opts = append(opts, oci.WithPrivileged, oci.WithHostDevices, oci.WithAllDevicesAllowed)
	}
	if isTrue(sc.ReadOnlyRootFilesystem) {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if privileged {
		return opts, nil
	}
	sec, err := seccompOpt(c.Name, pod, c)
	if err != nil {
		return nil, err
	}
	return append(opts, sec), nil
}

// checkPrivilegeEscalation is the API server's rule: a container that may
// gain every privilege cannot be denied privilege escalation.
func checkPrivilegeEscalation(container string, sc v1.SecurityContext, privileged bool) error {
	if !isFalse(sc.AllowPrivilegeEscalation) {
		return nil
	}
	if privileged {
		return configError(container, "securityContext.allowPrivilegeEscalation", "cannot be false when privileged is true")
	}
	if sc.Capabilities != nil {
		for _, c := range sc.Capabilities.Add {
			if c == "CAP_SYS_ADMIN" {
				return configError(container, "securityContext.allowPrivilegeEscalation", "cannot be false when capabilities.add has CAP_SYS_ADMIN")
			}
		}
	}
	return nil
}

// capabilityOpts applies capabilities.add and drop to containerd's default
// set (Docker's), with the CRI plugin's semantics: "ALL" in add grants every
// capability the runtime holds and "ALL" in drop clears the set, both before
// the named ones; then the named ones are added, then the named ones are
// dropped (so a name in both lists ends up dropped). Names are
// case-insensitive and may omit the CAP_ prefix; an unknown one is a
// *ConfigError.
func capabilityOpts(container string, caps *v1.Capabilities) ([]oci.SpecOpts, error) {
	if caps == nil {
		return nil, nil
	}
	add, addAll, err := capabilityNames(container, "securityContext.capabilities.add", caps.Add)
	if err != nil {
		return nil, err
	}
	drop, dropAll, err := capabilityNames(container, "securityContext.capabilities.drop", caps.Drop)
	if err != nil {
		return nil, err
	}
	var opts []oci.SpecOpts
	if addAll {
		opts = append(opts, oci.WithAllCurrentCapabilities)
	}
	if dropAll {
		opts = append(opts, oci.WithCapabilities(nil))
	}
	return append(opts, oci.WithAddedCapabilities(add), oci.WithDroppedCapabilities(drop)), nil
}

// capabilityNames normalises names to the CAP_ form and reports whether the
// list has "ALL".
func capabilityNames(container, field string, in []v1.Capability) (names []string, all bool, err error) {
	known := map[string]bool{}
	for _, k := range cap.Known() {
		known[k] = true
	}
	for i, c := range in {
		name := strings.ToUpper(string(c))
		if name == "ALL" {
			all = true
			continue
		}
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		if !known[name] {
			return nil, false, configError(container, fmt.Sprintf("%s[%d]", field, i), "unknown capability %q", c)
		}
		names = append(names, name)
	}
	return names, all, nil
}

// seccompOpt applies the effective seccompProfile. With kubelet's default
// (seccompDefault off) an unset profile means Unconfined. Localhost profiles
// would need a profile directory edged does not manage.
func seccompOpt(container string, pod *v1.Pod, c *v1.Container) (oci.SpecOpts, error) {
	field := "securityContext.seccompProfile"
	var profile *v1.SeccompProfile
	switch {
	case c.SecurityContext != nil && c.SecurityContext.SeccompProfile != nil:
		profile = c.SecurityContext.SeccompProfile
	case pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.SeccompProfile != nil:
		profile = pod.Spec.SecurityContext.SeccompProfile
		field = "spec.securityContext.seccompProfile"
	}
	if profile == nil {
		return oci.WithSeccompUnconfined, nil
	}
	switch profile.Type {
	case v1.SeccompProfileTypeUnconfined:
		return oci.WithSeccompUnconfined, nil
	case v1.SeccompProfileTypeRuntimeDefault:
		return seccomp.WithDefaultProfile(), nil
	case v1.SeccompProfileTypeLocalhost:
		return nil, configError(container, field+".type", "Localhost profiles are not supported on this node")
	}
	return nil, configError(container, field+".type", "unknown type %q", profile.Type)
}

// checkAppArmor refuses Localhost AppArmor profiles, which edged cannot load.
// RuntimeDefault and Unconfined both run without a profile: edged applies no
// AppArmor profile at all, where containerd's CRI plugin would apply its
// default one on a host with AppArmor enabled.
func checkAppArmor(container string, pod *v1.Pod, c *v1.Container) error {
	field := "securityContext.appArmorProfile"
	var profile *v1.AppArmorProfile
	switch {
	case c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil:
		profile = c.SecurityContext.AppArmorProfile
	case pod.Spec.SecurityContext != nil && pod.Spec.SecurityContext.AppArmorProfile != nil:
		profile = pod.Spec.SecurityContext.AppArmorProfile
		field = "spec.securityContext.appArmorProfile"
	}
	if profile != nil && profile.Type == v1.AppArmorProfileTypeLocalhost {
		return configError(container, field+".type", "Localhost profiles are not supported on this node")
	}
	return nil
}
