package podstatus

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestQOSClass(t *testing.T) {
	res := func(kv ...string) v1.ResourceList {
		l := v1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			l[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return l
	}
	guaranteed := v1.ResourceRequirements{Requests: res("cpu", "100m", "memory", "64Mi"), Limits: res("cpu", "100m", "memory", "64Mi")}
	tests := []struct {
		name  string
		app   v1.ResourceRequirements
		init  *v1.ResourceRequirements
		class v1.PodQOSClass
	}{
		{"nothing", v1.ResourceRequirements{}, nil, v1.PodQOSBestEffort},
		{"zero quantities count as none", v1.ResourceRequirements{Requests: res("cpu", "0"), Limits: res("memory", "0")}, nil, v1.PodQOSBestEffort},
		{"other resources do not count", v1.ResourceRequirements{Limits: res("ephemeral-storage", "1Gi")}, nil, v1.PodQOSBestEffort},
		{"requests only", v1.ResourceRequirements{Requests: res("cpu", "100m")}, nil, v1.PodQOSBurstable},
		{"limits equal requests", guaranteed, nil, v1.PodQOSGuaranteed},
		{"limits equal requests, same quantity written otherwise", v1.ResourceRequirements{
			Requests: res("cpu", "0.1", "memory", "67108864"), Limits: res("cpu", "100m", "memory", "64Mi")}, nil, v1.PodQOSGuaranteed},
		{"cpu limit only", v1.ResourceRequirements{Requests: res("cpu", "100m"), Limits: res("cpu", "100m")}, nil, v1.PodQOSBurstable},
		{"limit above request", v1.ResourceRequirements{Requests: res("cpu", "100m", "memory", "64Mi"), Limits: res("cpu", "200m", "memory", "64Mi")}, nil, v1.PodQOSBurstable},
		// The apiserver defaults requests to limits; without that the
		// kubelet's rule reads limits alone as Burstable.
		{"limits without requests", v1.ResourceRequirements{Limits: res("cpu", "100m", "memory", "64Mi")}, nil, v1.PodQOSBurstable},
		{"init container without limits", guaranteed, &v1.ResourceRequirements{}, v1.PodQOSBurstable},
		{"init container guaranteed too", guaranteed, &guaranteed, v1.PodQOSGuaranteed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := spec("app")
			pod.Spec.Containers[0].Resources = tc.app
			if tc.init != nil {
				withInit(pod, "init")
				pod.Spec.InitContainers[0].Resources = *tc.init
			}
			if got := QOSClass(pod); got != tc.class {
				t.Errorf("QOSClass = %s, want %s", got, tc.class)
			}
			if got := Build(up(pod), t0).QOSClass; got != tc.class {
				t.Errorf("status qosClass %s, want %s", got, tc.class)
			}
		})
	}
}

// TestQOSClassRecorded: the class the apiserver recorded is the pod's, as
// it was fixed at creation.
func TestQOSClassRecorded(t *testing.T) {
	pod := spec("app")
	pod.Status.QOSClass = v1.PodQOSBurstable
	if got := QOSClass(pod); got != v1.PodQOSBurstable {
		t.Errorf("QOSClass = %s, want the recorded Burstable", got)
	}
	if got := ComputeQOSClass(pod); got != v1.PodQOSBestEffort {
		t.Errorf("ComputeQOSClass = %s, want BestEffort", got)
	}
}
