package podspec

import (
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/pkg/cap"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// dockerDefaultCaps is containerd's default capability set.
var dockerDefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

func without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(c string) bool { return slices.Contains(drop, c) })
}

func TestOptsCapabilities(t *testing.T) {
	current, err := cap.Current()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		caps *v1.Capabilities
		want []string
	}{
		{name: "default set", want: dockerDefaultCaps},
		{name: "drop one", caps: &v1.Capabilities{Drop: []v1.Capability{"NET_RAW"}}, want: without(dockerDefaultCaps, "CAP_NET_RAW")},
		{name: "add with and without prefix, any case", caps: &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN", "cap_sys_time", "Sys_Nice"}},
			want: append(slices.Clone(dockerDefaultCaps), "CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_SYS_NICE")},
		{name: "drop ALL then add", caps: &v1.Capabilities{Drop: []v1.Capability{"ALL"}, Add: []v1.Capability{"NET_BIND_SERVICE"}},
			want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "drop all (lower case) and nothing added", caps: &v1.Capabilities{Drop: []v1.Capability{"all"}}, want: nil},
		{name: "a name in both lists is dropped", caps: &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN"}, Drop: []v1.Capability{"NET_ADMIN", "KILL"}},
			want: without(dockerDefaultCaps, "CAP_KILL")},
		{name: "add ALL is the runtime's set", caps: &v1.Capabilities{Add: []v1.Capability{"ALL"}}, want: current},
		{name: "add ALL, drop one", caps: &v1.Capabilities{Add: []v1.Capability{"ALL"}, Drop: []v1.Capability{"CHOWN"}}, want: without(current, "CAP_CHOWN")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(func(in *Input) {
				in.Container.SecurityContext = &v1.SecurityContext{Capabilities: tc.caps}
			}))
			c := s.Process.Capabilities
			for set, got := range map[string][]string{"bounding": c.Bounding, "effective": c.Effective, "permitted": c.Permitted} {
				if !slices.Equal(sorted(got), sorted(tc.want)) {
					t.Errorf("%s = %v, want %v", set, got, tc.want)
				}
			}
			if len(c.Ambient) != 0 || len(c.Inheritable) != 0 {
				t.Errorf("ambient %v, inheritable %v, want none", c.Ambient, c.Inheritable)
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestOptsNoNewPrivilegesAndReadOnlyRoot(t *testing.T) {
	cases := []struct {
		name         string
		sc           *v1.SecurityContext
		noNewPrivs   bool
		readonlyRoot bool
	}{
		{name: "defaults: escalation allowed, root writable"},
		{name: "allowPrivilegeEscalation true", sc: &v1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)}},
		{name: "allowPrivilegeEscalation false", sc: &v1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)}, noNewPrivs: true},
		{name: "readOnlyRootFilesystem", sc: &v1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(true)}, readonlyRoot: true},
		{name: "readOnlyRootFilesystem false", sc: &v1.SecurityContext{ReadOnlyRootFilesystem: ptr.To(false)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(func(in *Input) { in.Container.SecurityContext = tc.sc }))
			if s.Process.NoNewPrivileges != tc.noNewPrivs {
				t.Errorf("NoNewPrivileges = %v, want %v", s.Process.NoNewPrivileges, tc.noNewPrivs)
			}
			if s.Root.Readonly != tc.readonlyRoot {
				t.Errorf("Root.Readonly = %v, want %v", s.Root.Readonly, tc.readonlyRoot)
			}
		})
	}
}

func TestOptsPrivileged(t *testing.T) {
	current, err := cap.Current()
	if err != nil {
		t.Fatal(err)
	}
	s := generate(t, testInput(func(in *Input) {
		in.Pod.Spec.SecurityContext = &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}}
		in.Container.SecurityContext = &v1.SecurityContext{
			Privileged:   ptr.To(true),
			Capabilities: &v1.Capabilities{Drop: []v1.Capability{"ALL"}},
		}
	}))
	if got := s.Process.Capabilities.Bounding; !slices.Equal(sorted(got), sorted(current)) {
		t.Errorf("capabilities %v, want the runtime's %v", got, current)
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %v, read-only %v, want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if s.Linux.Seccomp != nil || s.Process.ApparmorProfile != "" {
		t.Errorf("seccomp %v, apparmor %q, want none", s.Linux.Seccomp != nil, s.Process.ApparmorProfile)
	}
	for _, dst := range []string{"/sys", cgroupRoot} {
		m, _ := findMount(s, dst)
		if !slices.Contains(m.Options, "rw") || slices.Contains(m.Options, "ro") {
			t.Errorf("%s options %v, want rw", dst, m.Options)
		}
	}
	allowAll := []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	if !slices.EqualFunc(s.Linux.Resources.Devices, allowAll, func(a, b specs.LinuxDeviceCgroup) bool {
		return a.Allow == b.Allow && a.Access == b.Access && a.Type == b.Type && a.Major == nil && a.Minor == nil
	}) {
		t.Errorf("device cgroup %+v, want all allowed", s.Linux.Resources.Devices)
	}
	if !slices.ContainsFunc(s.Linux.Devices, func(d specs.LinuxDevice) bool { return d.Path == "/dev/null" }) {
		t.Errorf("host devices not added: %d devices", len(s.Linux.Devices))
	}
	if _, ok := namespace(s, specs.CgroupNamespace); ok {
		t.Error("privileged container has its own cgroup namespace")
	}
}

func TestOptsUnprivilegedDefaults(t *testing.T) {
	s := generate(t, testInput())
	if len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
		t.Errorf("masked %v, read-only %v: want containerd's defaults", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
	if len(s.Linux.Devices) != 0 {
		t.Errorf("devices %v, want none", s.Linux.Devices)
	}
	if d := s.Linux.Resources.Devices; len(d) != 1 || d[0].Allow {
		t.Errorf("device cgroup %+v, want deny all", d)
	}
	if m, _ := findMount(s, "/sys"); !slices.Contains(m.Options, "ro") {
		t.Errorf("/sys options %v, want ro", m.Options)
	}
}

func TestOptsProcMountUnmasked(t *testing.T) {
	unmasked := v1.UnmaskedProcMount
	s := generate(t, testInput(func(in *Input) {
		in.Container.SecurityContext = &v1.SecurityContext{ProcMount: &unmasked}
	}))
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Errorf("masked %v, read-only %v, want none", s.Linux.MaskedPaths, s.Linux.ReadonlyPaths)
	}
}

func TestOptsSeccomp(t *testing.T) {
	profile := func(typ v1.SeccompProfileType) *v1.SeccompProfile { return &v1.SeccompProfile{Type: typ} }
	cases := []struct {
		name           string
		pod, container *v1.SeccompProfile
		want           bool
	}{
		{name: "unset is unconfined (seccompDefault off)"},
		{name: "pod RuntimeDefault", pod: profile(v1.SeccompProfileTypeRuntimeDefault), want: true},
		{name: "container RuntimeDefault", container: profile(v1.SeccompProfileTypeRuntimeDefault), want: true},
		{name: "container Unconfined over pod RuntimeDefault", pod: profile(v1.SeccompProfileTypeRuntimeDefault), container: profile(v1.SeccompProfileTypeUnconfined)},
		{name: "container RuntimeDefault over pod Unconfined", pod: profile(v1.SeccompProfileTypeUnconfined), container: profile(v1.SeccompProfileTypeRuntimeDefault), want: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(func(in *Input) {
				in.Pod.Spec.SecurityContext = &v1.PodSecurityContext{SeccompProfile: tc.pod}
				in.Container.SecurityContext = &v1.SecurityContext{SeccompProfile: tc.container}
			}))
			if got := s.Linux.Seccomp != nil; got != tc.want {
				t.Fatalf("seccomp set = %v, want %v", got, tc.want)
			}
			if tc.want && (s.Linux.Seccomp.DefaultAction != specs.ActErrno || len(s.Linux.Seccomp.Syscalls) == 0) {
				t.Errorf("not containerd's default profile: default action %s, %d rules", s.Linux.Seccomp.DefaultAction, len(s.Linux.Seccomp.Syscalls))
			}
		})
	}
}

func TestOptsSecurityConfigErrors(t *testing.T) {
	cases := []struct {
		name      string
		pod       *v1.PodSecurityContext
		container *v1.SecurityContext
		field     string
		mention   string
	}{
		{name: "unknown capability to add", container: &v1.SecurityContext{Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN", "FLY"}}},
			field: "securityContext.capabilities.add[1]", mention: `"FLY"`},
		{name: "unknown capability to drop", container: &v1.SecurityContext{Capabilities: &v1.Capabilities{Drop: []v1.Capability{"CAP_NOPE"}}},
			field: "securityContext.capabilities.drop[0]", mention: `"CAP_NOPE"`},
		{name: "privileged without privilege escalation", container: &v1.SecurityContext{Privileged: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false)},
			field: "securityContext.allowPrivilegeEscalation", mention: "privileged"},
		{name: "CAP_SYS_ADMIN without privilege escalation", container: &v1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), Capabilities: &v1.Capabilities{Add: []v1.Capability{"CAP_SYS_ADMIN"}}},
			field: "securityContext.allowPrivilegeEscalation", mention: "CAP_SYS_ADMIN"},
		{name: "container Localhost seccomp", container: &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}},
			field: "securityContext.seccompProfile.type", mention: "Localhost"},
		{name: "pod Localhost seccomp", pod: &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost}},
			field: "spec.securityContext.seccompProfile.type", mention: "Localhost"},
		{name: "unknown seccomp type", container: &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: "Strict"}},
			field: "securityContext.seccompProfile.type", mention: "Strict"},
		{name: "Localhost AppArmor", pod: &v1.PodSecurityContext{AppArmorProfile: &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeLocalhost}},
			field: "spec.securityContext.appArmorProfile.type", mention: "Localhost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantConfigError(t, testInput(func(in *Input) {
				in.Pod.Spec.SecurityContext = tc.pod
				in.Container.SecurityContext = tc.container
			}), tc.field, tc.mention)
		})
	}
}

func TestOptsAppArmorNotLocalhostRunsWithoutProfile(t *testing.T) {
	s := generate(t, testInput(func(in *Input) {
		in.Container.SecurityContext = &v1.SecurityContext{AppArmorProfile: &v1.AppArmorProfile{Type: v1.AppArmorProfileTypeRuntimeDefault}}
	}))
	if s.Process.ApparmorProfile != "" {
		t.Errorf("ApparmorProfile = %q, want none", s.Process.ApparmorProfile)
	}
}
