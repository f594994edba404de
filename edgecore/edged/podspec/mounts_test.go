package podspec

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestOptsDefaultMounts(t *testing.T) {
	s := generate(t, testInput())
	for _, dst := range []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"} {
		if n := countMounts(s, dst); n != 1 {
			t.Errorf("%s mounted %d times, want once", dst, n)
		}
	}
	if _, ok := findMount(s, "/run"); ok {
		t.Error("/run is a tmpfs; the CRI plugin leaves the image's /run")
	}
	cg, ok := findMount(s, cgroupRoot)
	if !ok || cg.Type != "cgroup" || !slices.Equal(cg.Options, []string{"nosuid", "noexec", "nodev", "relatime", "ro"}) {
		t.Errorf("cgroup mount %+v (found %v), want a read-only cgroup mount", cg, ok)
	}
	if s.Linux.RootfsPropagation != "" {
		t.Errorf("RootfsPropagation = %q, want unset", s.Linux.RootfsPropagation)
	}
}

func TestOptsFileMounts(t *testing.T) {
	bind := func(dst, src, mode string) specs.Mount {
		return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"rbind", "rprivate", mode}}
	}
	cases := []struct {
		name   string
		mutate func(*Input)
		want   []specs.Mount
		absent []string
	}{{
		name: "hosts, resolv.conf and termination log",
		mutate: func(in *Input) {
			in.EtcHosts, in.ResolvConf, in.TerminationLog = "/pods/u/etc-hosts", "/pods/u/resolv.conf", "/pods/u/containers/app/tl"
		},
		want: []specs.Mount{
			bind("/etc/hosts", "/pods/u/etc-hosts", "ro"),
			bind("/dev/termination-log", "/pods/u/containers/app/tl", "rw"),
			bind("/etc/resolv.conf", "/pods/u/resolv.conf", "ro"),
		},
	}, {
		name: "custom terminationMessagePath",
		mutate: func(in *Input) {
			in.TerminationLog = "/pods/u/tl"
			in.Container.TerminationMessagePath = "/var/log/term"
		},
		want:   []specs.Mount{bind("/var/log/term", "/pods/u/tl", "rw")},
		absent: []string{"/dev/termination-log", "/etc/hosts", "/etc/resolv.conf"},
	}, {
		name:   "none asked for",
		absent: []string{"/dev/termination-log", "/etc/hosts", "/etc/resolv.conf"},
	}, {
		name: "the pod's /dev/shm, shared by its containers",
		want: []specs.Mount{bind("/dev/shm", "/run/edgegate/pods/uid-1/shm", "rw")},
	}, {
		name:   "hostIPC binds the host's /dev/shm",
		mutate: func(in *Input) { in.Pod.Spec.HostIPC = true },
		want:   []specs.Mount{bind("/dev/shm", "/dev/shm", "rw")},
	}, {
		name:   "without a pod /dev/shm, the runtime's own",
		mutate: func(in *Input) { in.Shm = "" },
		want:   []specs.Mount{{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			s := generate(t, in)
			for _, w := range tc.want {
				if n := countMounts(s, w.Destination); n != 1 {
					t.Errorf("%s mounted %d times, want once", w.Destination, n)
				}
				if got, _ := findMount(s, w.Destination); !equalMount(got, w) {
					t.Errorf("mount %+v, want %+v", got, w)
				}
			}
			for _, dst := range tc.absent {
				if _, ok := findMount(s, dst); ok {
					t.Errorf("%s is mounted", dst)
				}
			}
		})
	}
}

func equalMount(a, b specs.Mount) bool {
	return a.Destination == b.Destination && a.Type == b.Type && a.Source == b.Source && slices.Equal(a.Options, b.Options)
}

func TestOptsVolumeMounts(t *testing.T) {
	data := t.TempDir()
	cfg := t.TempDir()
	shm := t.TempDir()
	hosts := t.TempDir()
	mode := func(m v1.MountPropagationMode) *v1.MountPropagationMode { return &m }
	rro := v1.RecursiveReadOnlyEnabled
	ifPossible := v1.RecursiveReadOnlyIfPossible
	cases := []struct {
		name        string
		privileged  bool
		mounts      []v1.VolumeMount
		want        []specs.Mount // in this order
		absent      []string
		propagation string
	}{{
		name: "read-write, read-only and the volume's own read-only",
		mounts: []v1.VolumeMount{
			{Name: "data", MountPath: "/data"},
			{Name: "data", MountPath: "/data-ro", ReadOnly: true},
			{Name: "cfg", MountPath: "/etc/app"},
		},
		want: []specs.Mount{
			{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/data-ro", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "ro"}},
			{Destination: "/etc/app", Type: "bind", Source: cfg, Options: []string{"rbind", "rprivate", "ro"}},
		},
	}, {
		name: "parents first, relative mountPath made absolute",
		mounts: []v1.VolumeMount{
			{Name: "cfg", MountPath: "/srv/a/b"},
			{Name: "data", MountPath: "srv"},
			{Name: "data", MountPath: "/srv/a"},
		},
		want: []specs.Mount{
			{Destination: "/srv", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/srv/a", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/srv/a/b", Type: "bind", Source: cfg, Options: []string{"rbind", "rprivate", "ro"}},
		},
	}, {
		name: "a volume replaces the default /dev/shm, /etc/hosts and /etc/resolv.conf",
		mounts: []v1.VolumeMount{
			{Name: "shm", MountPath: "/dev/shm"},
			{Name: "hosts", MountPath: "/etc/hosts/"},
			{Name: "hosts", MountPath: "/etc/resolv.conf"},
		},
		want: []specs.Mount{
			{Destination: "/dev/shm", Type: "bind", Source: shm, Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/etc/hosts/", Type: "bind", Source: hosts, Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/etc/resolv.conf", Type: "bind", Source: hosts, Options: []string{"rbind", "rprivate", "rw"}},
		},
		absent: []string{"/etc/hosts"},
	}, {
		name:   "a volume at /dev replaces the runtime's mounts under it, the pod's /dev/shm goes over it (CRI)",
		mounts: []v1.VolumeMount{{Name: "data", MountPath: "/dev"}},
		want: []specs.Mount{
			{Destination: "/dev", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "rw"}},
			{Destination: "/dev/shm", Type: "bind", Source: "/run/edgegate/pods/uid-1/shm", Options: []string{"rbind", "rprivate", "rw"}},
		},
		absent: []string{"/dev/pts", "/dev/mqueue"},
	}, {
		name:        "HostToContainer is rslave",
		mounts:      []v1.VolumeMount{{Name: "data", MountPath: "/data", MountPropagation: mode(v1.MountPropagationHostToContainer)}},
		want:        []specs.Mount{{Destination: "/data", Type: "bind", Source: data, Options: []string{"rbind", "rslave", "rw"}}},
		propagation: "rslave",
	}, {
		name:       "Bidirectional in a privileged container is rshared",
		privileged: true,
		mounts: []v1.VolumeMount{
			{Name: "data", MountPath: "/a", MountPropagation: mode(v1.MountPropagationHostToContainer)},
			{Name: "data", MountPath: "/b", MountPropagation: mode(v1.MountPropagationBidirectional)},
			{Name: "data", MountPath: "/c", MountPropagation: mode(v1.MountPropagationNone)},
		},
		want: []specs.Mount{
			{Destination: "/a", Type: "bind", Source: data, Options: []string{"rbind", "rslave", "rw"}},
			{Destination: "/b", Type: "bind", Source: data, Options: []string{"rbind", "rshared", "rw"}},
			{Destination: "/c", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "rw"}},
		},
		propagation: "rshared",
	}, {
		name: "recursiveReadOnly",
		mounts: []v1.VolumeMount{
			{Name: "data", MountPath: "/r", ReadOnly: true, RecursiveReadOnly: &rro},
			{Name: "data", MountPath: "/p", ReadOnly: true, RecursiveReadOnly: &ifPossible},
		},
		want: []specs.Mount{
			{Destination: "/r", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "rro"}},
			{Destination: "/p", Type: "bind", Source: data, Options: []string{"rbind", "rprivate", "ro"}},
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(func(in *Input) {
				in.Volumes = map[string]Mount{
					"data":  {HostPath: data},
					"cfg":   {HostPath: cfg, ReadOnly: true},
					"shm":   {HostPath: shm},
					"hosts": {HostPath: hosts},
				}
				in.EtcHosts, in.ResolvConf = "/pods/etc-hosts", "/pods/resolv.conf"
				in.Container.VolumeMounts = tc.mounts
				in.Container.SecurityContext = &v1.SecurityContext{Privileged: ptr.To(tc.privileged)}
			}))
			// The wanted mounts, in the order the spec has them.
			got := slices.DeleteFunc(slices.Clone(s.Mounts), func(m specs.Mount) bool {
				return !slices.ContainsFunc(tc.want, func(w specs.Mount) bool { return w.Destination == m.Destination })
			})
			if !slices.EqualFunc(got, tc.want, equalMount) {
				t.Errorf("mounts\n  %+v\nwant\n  %+v", got, tc.want)
			}
			for _, w := range tc.want {
				if n := countMounts(s, w.Destination); n != 1 {
					t.Errorf("%s mounted %d times, want once", w.Destination, n)
				}
			}
			for _, dst := range tc.absent {
				if _, ok := findMount(s, dst); ok {
					t.Errorf("%s is still mounted", dst)
				}
			}
			if s.Linux.RootfsPropagation != tc.propagation {
				t.Errorf("RootfsPropagation = %q, want %q", s.Linux.RootfsPropagation, tc.propagation)
			}
		})
	}
}

func TestOptsSubPath(t *testing.T) {
	vol := t.TempDir()
	if err := os.Chmod(vol, 0o2775); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(vol, "..2024", "app.conf"), "x")
	mustSymlink(t, "..2024", filepath.Join(vol, "..data"))
	mustSymlink(t, "..data/app.conf", filepath.Join(vol, "app.conf"))
	outside := t.TempDir()
	mustSymlink(t, outside, filepath.Join(vol, "abs-escape"))
	mustSymlink(t, "../../..", filepath.Join(vol, "rel-escape"))

	cases := []struct {
		name    string
		vm      v1.VolumeMount
		env     []string
		source  string
		created string // a directory the subPath made, with the volume's mode
	}{
		{name: "existing file through AtomicWriter symlinks", vm: v1.VolumeMount{SubPath: "app.conf"}, source: filepath.Join(vol, "..2024", "app.conf")},
		{name: "missing directories are created", vm: v1.VolumeMount{SubPath: "logs/app"}, source: filepath.Join(vol, "logs", "app"), created: "logs/app"},
		{name: "subPathExpr", vm: v1.VolumeMount{SubPathExpr: "pods/$(POD_NAME)"}, env: []string{"POD_NAME=web-0"}, source: filepath.Join(vol, "pods", "web-0"), created: "pods/web-0"},
		{name: "subPathExpr escape", vm: v1.VolumeMount{SubPathExpr: "$$(x)"}, source: filepath.Join(vol, "$(x)"), created: "$(x)"},
		{name: "trailing slash and dot", vm: v1.VolumeMount{SubPath: "./cache/"}, source: filepath.Join(vol, "cache"), created: "cache"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := tc.vm
			vm.Name, vm.MountPath = "vol", "/mnt"
			s := generate(t, testInput(func(in *Input) {
				in.Volumes = map[string]Mount{"vol": {HostPath: vol}}
				in.Container.VolumeMounts = []v1.VolumeMount{vm}
				in.Env = tc.env
			}))
			m, _ := findMount(s, "/mnt")
			if m.Source != tc.source {
				t.Errorf("source = %q, want %q", m.Source, tc.source)
			}
			if tc.created != "" {
				info, err := os.Stat(filepath.Join(vol, tc.created))
				if err != nil || !info.IsDir() || info.Mode().Perm() != 0o775 {
					t.Errorf("created %s: %v, %v; want a directory with mode 0775", tc.created, info, err)
				}
			}
		})
	}

	bad := []struct {
		name  string
		vm    v1.VolumeMount
		field string
		what  string
	}{
		{name: "absolute", vm: v1.VolumeMount{SubPath: "/etc"}, field: "volumeMounts[0].subPath", what: "absolute"},
		{name: "climbs", vm: v1.VolumeMount{SubPath: "a/../../b"}, field: "volumeMounts[0].subPath", what: ".."},
		{name: "expression climbs", vm: v1.VolumeMount{SubPathExpr: "$(UP)/x"}, field: "volumeMounts[0].subPathExpr", what: ".."},
		{name: "missing expression variables", vm: v1.VolumeMount{SubPathExpr: "$(NOPE)/$(EMPTY)/$(NOPE)"}, field: "volumeMounts[0].subPathExpr", what: "EMPTY, NOPE"},
		{name: "absolute symlink", vm: v1.VolumeMount{SubPath: "abs-escape"}, field: "volumeMounts[0].subPath", what: "abs-escape"},
		{name: "relative symlink out", vm: v1.VolumeMount{SubPath: "rel-escape/tmp"}, field: "volumeMounts[0].subPath", what: "rel-escape"},
		{name: "directory under an escaping symlink", vm: v1.VolumeMount{SubPath: "abs-escape/new"}, field: "volumeMounts[0].subPath", what: "abs-escape"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			vm := tc.vm
			vm.Name, vm.MountPath = "vol", "/mnt"
			wantConfigError(t, testInput(func(in *Input) {
				in.Volumes = map[string]Mount{"vol": {HostPath: vol}}
				in.Container.VolumeMounts = []v1.VolumeMount{vm}
				in.Env = []string{"UP=..", "EMPTY="}
			}), tc.field, tc.what)
		})
	}
	if entries, err := os.ReadDir(outside); err != nil || len(entries) != 0 {
		t.Errorf("something was created outside the volume: %v, %v", entries, err)
	}
}

func TestOptsVolumeConfigErrors(t *testing.T) {
	bidi := v1.MountPropagationBidirectional
	odd := v1.MountPropagationMode("Sideways")
	rro := v1.RecursiveReadOnlyEnabled
	cases := []struct {
		name  string
		vm    v1.VolumeMount
		field string
		what  string
	}{
		{name: "unknown volume", vm: v1.VolumeMount{Name: "ghost", MountPath: "/g"}, field: "volumeMounts[1].name", what: `"ghost"`},
		{name: "Bidirectional without privileged", vm: v1.VolumeMount{Name: "data", MountPath: "/b", MountPropagation: &bidi}, field: "volumeMounts[1].mountPropagation", what: "privileged"},
		{name: "unknown propagation", vm: v1.VolumeMount{Name: "data", MountPath: "/b", MountPropagation: &odd}, field: "volumeMounts[1].mountPropagation", what: "Sideways"},
		{name: "recursive read-only on a writable mount", vm: v1.VolumeMount{Name: "data", MountPath: "/r", RecursiveReadOnly: &rro}, field: "volumeMounts[1].recursiveReadOnly", what: "readOnly"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantConfigError(t, testInput(func(in *Input) {
				in.Volumes = map[string]Mount{"data": {HostPath: t.TempDir()}}
				in.Container.VolumeMounts = []v1.VolumeMount{{Name: "data", MountPath: "/ok"}, tc.vm}
			}), tc.field, tc.what)
		})
	}
}

func mustWrite(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
