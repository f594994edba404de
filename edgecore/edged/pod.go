package edged

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"

	"github.com/containerd/containerd/v2/pkg/oci"
	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/containerd"
	"github.com/edgegate/edgegate/edgecore/edged/containerlog"
	"github.com/edgegate/edgegate/edgecore/edged/podnet"
	"github.com/edgegate/edgegate/edgecore/edged/podspec"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// specOpts makes the OCI spec options of one container attempt.
func (w *worker) specOpts(pod *v1.Pod, c *v1.Container, id string, img containerd.Image, mounts map[string]podspec.Mount) ([]oci.SpecOpts, error) {
	f := podspec.Fields{PodIP: w.podIP(), PodIPs: w.podIPs(), HostIP: w.m.hostIP(), NodeName: pod.Spec.NodeName, Allocatable: w.m.allocatable.get()}
	env, err := podspec.Env(pod, c, img.Config.Env, w.m.sources(), f)
	if err != nil {
		return nil, err
	}
	termLog := w.m.podFile(w.uid, "termination-"+id)
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		return nil, fmt.Errorf("termination log: %w", err)
	}
	in := podspec.Input{
		Pod: pod, Container: c, Image: img.Config, Env: env, Volumes: mounts,
		Hostname:       podspec.Hostname(pod),
		EtcHosts:       w.m.podFile(w.uid, "etc-hosts"),
		ResolvConf:     w.m.resolvConf(),
		TerminationLog: termLog,
		CgroupsPath:    fmt.Sprintf("/edgegate/pod%s/%s", w.uid, id),
	}
	if w.att != nil {
		in.NetNS = w.att.NetNS
	}
	if w.ipc != nil {
		in.IPC, in.Shm = w.ipc.Namespace, w.ipc.Shm
	}
	opts, err := podspec.Opts(in)
	if err != nil || w.m.cgroup2 {
		return opts, err
	}
	return append(opts, withoutUnified), nil
}

func (w *worker) podIPs() []string {
	if w.att == nil {
		return nil
	}
	out := make([]string, 0, len(w.att.IPs))
	for _, ip := range w.att.IPs {
		out = append(out, ip.String())
	}
	return out
}

// resolvConf is the gateway's resolver configuration, which pods get as
// with dnsPolicy Default (there is no cluster DNS on the edge unless
// edgemesh provides one).
func (m *Module) resolvConf() string {
	if _, err := os.Stat("/etc/resolv.conf"); err != nil {
		return ""
	}
	return "/etc/resolv.conf"
}

func (m *Module) hostIP() string { return nodestatus.NodeIP(m.cfg.NodeIP) }

// openLog opens the attempt's log file (kubelet's layout and limits).
func (m *Module) openLog(pod *v1.Pod, container string, attempt int) (*containerlog.Writer, error) {
	path := containerlog.Path(m.cfg.LogsDir, pod.Namespace, pod.Name, string(pod.UID), container, attempt)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	return containerlog.Open(path, m.cfg.Logs, nil)
}

// newContainerID is a random containerd container ID, as the CRI's.
func newContainerID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("edged: no randomness: %v", err))
	}
	return hex.EncodeToString(b)
}

// specHash identifies a container's spec, so that a changed spec (a new
// image, say) replaces the running container as the kubelet's hash does.
func specHash(c *v1.Container) string {
	data, _ := json.Marshal(c)
	h := fnv.New64a()
	h.Write(data)
	return fmt.Sprintf("%x", h.Sum64())
}

// hostPorts are the pod's hostPort mappings.
func hostPorts(pod *v1.Pod) []podnet.PortMapping {
	var out []podnet.PortMapping
	for _, c := range allContainers(pod) {
		for _, p := range c.Ports {
			if p.HostPort == 0 {
				continue
			}
			out = append(out, podnet.PortMapping{HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: string(p.Protocol), HostIP: p.HostIP})
		}
	}
	return out
}

// allContainers are the init containers then the containers.
func allContainers(pod *v1.Pod) []*v1.Container {
	out := make([]*v1.Container, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for i := range pod.Spec.InitContainers {
		out = append(out, &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}
