package podstatus

import (
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestIPs(t *testing.T) {
	tests := []struct {
		name            string
		hostNetwork     bool
		podIPs, hostIPs []string
		podIP, hostIP   string
		wantPod         []string
		wantHost        []string
	}{{
		name: "IPv4", podIPs: []string{"10.88.0.5"}, hostIPs: []string{"192.168.1.10"},
		podIP: "10.88.0.5", hostIP: "192.168.1.10", wantPod: []string{"10.88.0.5"}, wantHost: []string{"192.168.1.10"},
	}, {
		name: "dual stack, node IPv4 first", podIPs: []string{"fd00::5", "10.88.0.5", "10.88.0.6"}, hostIPs: []string{"192.168.1.10", "fd01::10"},
		podIP: "10.88.0.5", hostIP: "192.168.1.10", wantPod: []string{"10.88.0.5", "fd00::5"}, wantHost: []string{"192.168.1.10", "fd01::10"},
	}, {
		name: "dual stack, node IPv6 first", podIPs: []string{"10.88.0.5", "fd00::5"}, hostIPs: []string{"fd01::10", "192.168.1.10"},
		podIP: "fd00::5", hostIP: "fd01::10", wantPod: []string{"fd00::5", "10.88.0.5"}, wantHost: []string{"fd01::10", "192.168.1.10"},
	}, {
		name: "no node IP: IPv4 preferred", podIPs: []string{"fd00::5", "10.88.0.5"},
		podIP: "10.88.0.5", wantPod: []string{"10.88.0.5", "fd00::5"},
	}, {
		name: "invalid IPs dropped", podIPs: []string{"bogus", "10.88.0.5"}, hostIPs: []string{"192.168.1.10"},
		podIP: "10.88.0.5", hostIP: "192.168.1.10", wantPod: []string{"10.88.0.5"}, wantHost: []string{"192.168.1.10"},
	}, {
		name: "host network: the node's IPs", hostNetwork: true, hostIPs: []string{"192.168.1.10", "fd01::10"},
		podIP: "192.168.1.10", hostIP: "192.168.1.10", wantPod: []string{"192.168.1.10", "fd01::10"}, wantHost: []string{"192.168.1.10", "fd01::10"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := spec("app")
			pod.Spec.HostNetwork = tc.hostNetwork
			s := Build(Pod{Pod: pod, PodIPs: tc.podIPs, HostIPs: tc.hostIPs}, t0)
			var gotPod, gotHost []string
			for _, ip := range s.PodIPs {
				gotPod = append(gotPod, ip.IP)
			}
			for _, ip := range s.HostIPs {
				gotHost = append(gotHost, ip.IP)
			}
			if s.PodIP != tc.podIP || s.HostIP != tc.hostIP || !reflect.DeepEqual(gotPod, tc.wantPod) || !reflect.DeepEqual(gotHost, tc.wantHost) {
				t.Errorf("podIP %q podIPs %v hostIP %q hostIPs %v, want %q %v %q %v", s.PodIP, gotPod, s.HostIP, gotHost, tc.podIP, tc.wantPod, tc.hostIP, tc.wantHost)
			}
		})
	}
}

// TestHostNetworkReadyToStart: a host-network sandbox needs no IP of its own.
func TestHostNetworkReadyToStart(t *testing.T) {
	pod := spec("app")
	pod.Spec.HostNetwork = true
	s := Build(Pod{Pod: pod, SandboxReady: true}, t0)
	if c := findCondition(s.Conditions, v1.PodReadyToStartContainers); c == nil || c.Status != v1.ConditionTrue {
		t.Errorf("PodReadyToStartContainers %+v, want True", c)
	}
}
