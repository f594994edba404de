package podstatus

import (
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// t0 is the tests' clock: the start of the pod's life.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// spec builds a pod of the named regular containers, restart policy
// Always, bound to a node.
func spec(names ...string) *v1.Pod {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "uid-1"},
		Spec:       v1.PodSpec{NodeName: "edge-1", RestartPolicy: v1.RestartPolicyAlways},
	}
	for _, n := range names {
		pod.Spec.Containers = append(pod.Spec.Containers, v1.Container{Name: n, Image: n + ":1"})
	}
	return pod
}

func withInit(pod *v1.Pod, names ...string) *v1.Pod {
	for _, n := range names {
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{Name: n, Image: n + ":1"})
	}
	return pod
}

func withSidecar(pod *v1.Pod, name string) *v1.Pod {
	pod.Spec.InitContainers = append(pod.Spec.InitContainers, v1.Container{
		Name: name, Image: name + ":1", RestartPolicy: ptr.To(v1.ContainerRestartPolicyAlways),
	})
	return pod
}

func withPolicy(pod *v1.Pod, policy v1.RestartPolicy) *v1.Pod {
	pod.Spec.RestartPolicy = policy
	return pod
}

// running is a started, ready instance.
func running(name string) Container {
	return Container{
		Name: name, ID: "containerd://" + name + "-1", ImageID: "docker.io/library/" + name + "@sha256:abc",
		Running: &Running{StartedAt: t0.Add(time.Second)}, Ready: true,
	}
}

// exited is an instance that terminated with code.
func exited(name string, code int32) Container {
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	return Container{
		Name: name, ID: "containerd://" + name + "-1", ImageID: "docker.io/library/" + name + "@sha256:abc",
		Terminated: &Terminated{ExitCode: code, Reason: reason, StartedAt: t0.Add(time.Second), FinishedAt: t0.Add(2 * time.Second)},
	}
}

// up is a pod whose sandbox is set up, with an IP.
func up(pod *v1.Pod, cs ...Container) Pod {
	return Pod{Pod: pod, PodIPs: []string{"10.88.0.5"}, HostIPs: []string{"192.168.1.10"}, StartTime: t0, SandboxReady: true, Containers: cs}
}

type cond struct {
	Status          v1.ConditionStatus
	Reason, Message string
}

func conds(s v1.PodStatus) map[v1.PodConditionType]cond {
	out := map[v1.PodConditionType]cond{}
	for _, c := range s.Conditions {
		out[c.Type] = cond{c.Status, c.Reason, c.Message}
	}
	return out
}

func status(s v1.PodStatus, name string) *v1.ContainerStatus {
	for _, list := range [][]v1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses, s.EphemeralContainerStatuses} {
		if st := findStatus(list, name); st != nil {
			return st
		}
	}
	return nil
}
