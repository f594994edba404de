// Package nodestatus registers the edge node with the cloud and keeps it
// alive there, sending what KubeEdge's edged (the kubelet behind its client
// bridge) sends: an insert of default/node/<node>, a status patch of
// default/nodepatch/<node> every nodeStatusUpdateFrequency, and the node
// lease in kube-node-lease. Messages go through metamanager, source "edged",
// group "meta", exactly as KubeEdge's bridge builds them.
package nodestatus

import (
	"bufio"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// KubeletVersion is the version reported in nodeInfo, in KubeEdge's form
// (<kubelet>-kubeedge-<release>); cloudcore reads the KubeEdge release from it.
const KubeletVersion = "v1.30.7-kubeedge-v1.21.0"

// nodeObject is the v1.Node edged registers.
func nodeObject(name string, labels map[string]string, now time.Time) map[string]any {
	l := map[string]any{
		"kubernetes.io/hostname":        name,
		"kubernetes.io/os":              runtime.GOOS,
		"kubernetes.io/arch":            runtime.GOARCH,
		"node-role.kubernetes.io/edge":  "",
		"node-role.kubernetes.io/agent": "",
		"beta.kubernetes.io/os":         runtime.GOOS,
		"beta.kubernetes.io/arch":       runtime.GOARCH,
	}
	for k, v := range labels {
		l[k] = v
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata":   map[string]any{"name": name, "labels": l},
		"spec":       map[string]any{},
		"status":     nodeStatus(name, now),
	}
}

// nodeStatus is the status part: capacity, addresses, info and Ready.
func nodeStatus(name string, now time.Time) map[string]any {
	ts := now.UTC().Format(time.RFC3339)
	resources := map[string]any{
		"cpu":    strconv.Itoa(runtime.NumCPU()),
		"memory": memTotal(),
		"pods":   "110",
	}
	status := map[string]any{
		"capacity":    resources,
		"allocatable": resources,
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "EdgeReady",
			"message":           "edge is posting ready status",
			"lastHeartbeatTime": ts, "lastTransitionTime": ts,
		}},
		"nodeInfo": map[string]any{
			"architecture":            runtime.GOARCH,
			"operatingSystem":         runtime.GOOS,
			"kubeletVersion":          KubeletVersion,
			"kubeProxyVersion":        "",
			"containerRuntimeVersion": "remote://",
			"osImage":                 "edgegate",
		},
	}
	addrs := []any{map[string]any{"type": "Hostname", "address": name}}
	if ip := internalIP(); ip != "" {
		addrs = append([]any{map[string]any{"type": "InternalIP", "address": ip}}, addrs...)
	}
	status["addresses"] = addrs
	return status
}

// memTotal reads MemTotal from /proc/meminfo as a Kubernetes quantity.
func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "0"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			return fields[1] + "Ki"
		}
	}
	return "0"
}

// internalIP is the first global unicast IPv4 address, as edged picks
// when nodeIP is not configured.
func internalIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// leaseObject is the coordination.k8s.io/v1 Lease the kubelet renews.
func leaseObject(node string, duration time.Duration, now time.Time) map[string]any {
	return map[string]any{
		"apiVersion": "coordination.k8s.io/v1",
		"kind":       "Lease",
		"metadata":   map[string]any{"name": node, "namespace": "kube-node-lease"},
		"spec": map[string]any{
			"holderIdentity":       node,
			"leaseDurationSeconds": int(duration.Seconds()),
			"renewTime":            now.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		},
	}
}
