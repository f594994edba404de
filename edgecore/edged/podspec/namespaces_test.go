package podspec

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"k8s.io/utils/ptr"
)

func TestOptsNamespaces(t *testing.T) {
	nodeName, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	all := []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.NetworkNamespace, specs.CgroupNamespace}
	cases := []struct {
		name     string
		mutate   func(*Input)
		host     []specs.LinuxNamespaceType // shared with the host, i.e. absent
		netPath  string
		hostname string
		envName  string // HOSTNAME
	}{{
		name:     "pod network",
		netPath:  "/run/netns/edgegate-uid-1",
		hostname: "web-0",
		envName:  "web-0",
	}, {
		name:     "given hostname",
		mutate:   func(in *Input) { in.Hostname = "db-1" },
		netPath:  "/run/netns/edgegate-uid-1",
		hostname: "db-1",
		envName:  "db-1",
	}, {
		name:     "pod hostname when none is given",
		mutate:   func(in *Input) { in.Pod.Spec.Hostname = "h" },
		netPath:  "/run/netns/edgegate-uid-1",
		hostname: "h",
		envName:  "h",
	}, {
		name: "hostNetwork shares net and uts and keeps the node's name",
		mutate: func(in *Input) {
			in.Pod.Spec.HostNetwork = true
			in.NetNS = ""
			in.Hostname = "gw1"
		},
		host:    []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.UTSNamespace},
		envName: "gw1",
	}, {
		name: "hostNetwork without a hostname reads the node's",
		mutate: func(in *Input) {
			in.Pod.Spec.HostNetwork = true
			in.NetNS = ""
		},
		host:    []specs.LinuxNamespaceType{specs.NetworkNamespace, specs.UTSNamespace},
		envName: nodeName,
	}, {
		name: "hostPID and hostIPC",
		mutate: func(in *Input) {
			in.Pod.Spec.HostPID = true
			in.Pod.Spec.HostIPC = true
		},
		host:     []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace},
		netPath:  "/run/netns/edgegate-uid-1",
		hostname: "web-0",
		envName:  "web-0",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := testInput()
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			s := generate(t, in)
			for _, typ := range all {
				ns, ok := namespace(s, typ)
				if want := !slices.Contains(tc.host, typ); ok != want {
					t.Errorf("%s namespace present = %v, want %v", typ, ok, want)
				}
				wantPath := ""
				switch typ {
				case specs.NetworkNamespace:
					wantPath = tc.netPath
				case specs.IPCNamespace:
					wantPath = testIPC
				}
				if ok && ns.Path != wantPath {
					t.Errorf("%s namespace path = %q, want %q", typ, ns.Path, wantPath)
				}
			}
			if s.Hostname != tc.hostname {
				t.Errorf("Hostname = %q, want %q", s.Hostname, tc.hostname)
			}
			if !slices.Contains(s.Process.Env, "HOSTNAME="+tc.envName) {
				t.Errorf("Env %q lacks HOSTNAME=%s", s.Process.Env, tc.envName)
			}
		})
	}
}

func TestOptsNamespaceErrors(t *testing.T) {
	wantConfigError(t, testInput(func(in *Input) { in.Pod.Spec.ShareProcessNamespace = ptr.To(true) }),
		"spec.shareProcessNamespace", "not supported")
	wantConfigError(t, testInput(func(in *Input) { in.Pod.Spec.HostUsers = ptr.To(false) }),
		"spec.hostUsers", "user namespaces")

	// A pod on the pod network without its namespace, or a pod without
	// its IPC namespace, is the caller's bug.
	_, err := Opts(testInput(func(in *Input) { in.NetNS = "" }))
	var ce *ConfigError
	if err == nil || errors.As(err, &ce) {
		t.Errorf("missing NetNS: error %v, want a plain error", err)
	}
	_, err = Opts(testInput(func(in *Input) { in.IPC = "" }))
	if err == nil || errors.As(err, &ce) || !strings.Contains(err.Error(), "no IPC namespace for the pod") {
		t.Errorf("missing IPC: error %v, want a plain error", err)
	}
	if _, err := Opts(testInput(func(in *Input) { in.IPC, in.Pod.Spec.HostIPC = "", true })); err != nil {
		t.Errorf("hostIPC without the pod's IPC namespace: %v", err)
	}

	if _, err := Opts(Input{}); err == nil {
		t.Error("Opts accepted an Input without pod and container")
	}
}
