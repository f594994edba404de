package volume

import (
	"maps"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func downwardPod() *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: testNS, Name: "web", UID: testUID,
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": "say \"hi\"\n", "a.example.com/x": "1"},
		},
		Spec: v1.PodSpec{
			NodeName:           "apiserver-node",
			ServiceAccountName: "runner",
			InitContainers:     []v1.Container{{Name: "init", Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("100m")}}}},
			Containers: []v1.Container{{Name: "app", Resources: v1.ResourceRequirements{
				Limits: v1.ResourceList{
					v1.ResourceCPU:                   resource.MustParse("1500m"),
					v1.ResourceMemory:                resource.MustParse("64Mi"),
					v1.ResourceName("hugepages-2Mi"): resource.MustParse("4Mi"),
				},
				Requests: v1.ResourceList{
					v1.ResourceCPU:    resource.MustParse("250m"),
					v1.ResourceMemory: resource.MustParse("1000"),
				},
			}}},
		},
		Status: v1.PodStatus{PodIP: "10.0.0.9", HostIP: "192.168.1.1"},
	}
}

func TestFieldPathValue(t *testing.T) {
	pod := downwardPod()
	tests := []struct {
		path    string
		fields  Fields
		want    string
		wantErr string
	}{
		{path: "metadata.name", want: "web"},
		{path: "metadata.namespace", want: testNS},
		{path: "metadata.uid", want: testUID},
		{path: "metadata.labels", want: "app=\"web\"\ntier=\"front\""},
		{path: "metadata.annotations", want: "a.example.com/x=\"1\"\nnote=\"say \\\"hi\\\"\\n\""},
		{path: "metadata.labels['tier']", want: "front"},
		{path: "metadata.labels['absent']", want: ""},
		{path: "metadata.annotations['a.example.com/x']", want: "1"},
		{path: "metadata.labels['bad key!']", wantErr: "invalid key"},
		{path: "metadata.name['x']", wantErr: "does not support a subscript"},
		{path: "spec.nodeName", want: "apiserver-node"},
		{path: "spec.nodeName", fields: Fields{NodeName: "gw-1"}, want: "gw-1"},
		{path: "spec.serviceAccountName", want: "runner"},
		{path: "status.podIP", want: "10.0.0.9"},
		{path: "status.podIP", fields: Fields{PodIP: "10.0.0.10"}, want: "10.0.0.10"},
		{path: "status.hostIP", fields: Fields{HostIP: "192.168.1.2"}, want: "192.168.1.2"},
		{path: "metadata.generateName", wantErr: "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := FieldPathValue(pod, tc.fields, tc.path)
			if tc.wantErr != "" {
				requireErrContains(t, err, tc.wantErr)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("FieldPathValue(%q) = %q, %v; want %q", tc.path, got, err, tc.want)
			}
		})
	}
}

func TestResourceValue(t *testing.T) {
	pod := downwardPod()
	node := Fields{Allocatable: v1.ResourceList{
		v1.ResourceCPU:              resource.MustParse("4"),
		v1.ResourceMemory:           resource.MustParse("2Gi"),
		v1.ResourceEphemeralStorage: resource.MustParse("10Gi"),
	}}
	tests := []struct {
		name      string
		container string
		resource  string
		divisor   string
		fields    Fields
		want      string
		wantErr   string
	}{
		{name: "cpu limit rounds up to cores", container: "app", resource: "limits.cpu", want: "2"},
		{name: "cpu limit in millicores", container: "app", resource: "limits.cpu", divisor: "1m", want: "1500"},
		{name: "cpu request", container: "app", resource: "requests.cpu", want: "1"},
		{name: "memory limit in Mi", container: "app", resource: "limits.memory", divisor: "1Mi", want: "64"},
		{name: "memory request rounds up", container: "app", resource: "requests.memory", divisor: "1Ki", want: "1"},
		{name: "hugepages limit", container: "app", resource: "limits.hugepages-2Mi", divisor: "1Mi", want: "4"},
		{name: "unset limit is node allocatable", container: "app", resource: "limits.ephemeral-storage", divisor: "1Gi", fields: node, want: "10"},
		{name: "set limit wins over allocatable", container: "app", resource: "limits.memory", divisor: "1Mi", fields: node, want: "64"},
		{name: "unset limit without allocatable", container: "app", resource: "limits.ephemeral-storage", want: "0"},
		{name: "unset request is not defaulted", container: "app", resource: "requests.ephemeral-storage", fields: node, want: "0"},
		{name: "init container", container: "init", resource: "requests.cpu", divisor: "1m", want: "100"},
		{name: "init container limit from allocatable", container: "init", resource: "limits.cpu", fields: node, want: "4"},
		{name: "unknown container", container: "nope", resource: "limits.cpu", wantErr: `container "nope" not found`},
		{name: "unsupported resource", container: "app", resource: "limits.nvidia.com/gpu", wantErr: "not supported"},
		{name: "not a limit or request", container: "app", resource: "capacity.cpu", wantErr: "not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := &v1.ResourceFieldSelector{ContainerName: tc.container, Resource: tc.resource}
			if tc.divisor != "" {
				ref.Divisor = resource.MustParse(tc.divisor)
			}
			got, err := ResourceValue(pod, tc.fields, ref)
			if tc.wantErr != "" {
				requireErrContains(t, err, tc.wantErr)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ResourceValue(%s) = %q, %v; want %q", tc.resource, got, err, tc.want)
			}
		})
	}
}

func TestDownwardAPIVolume(t *testing.T) {
	pod := downwardPod()
	pod.Spec.Volumes = []v1.Volume{{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{
		DefaultMode: ptr[int32](0o444),
		Items: []v1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "meta/labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}, Mode: ptr[int32](0o400)},
			{Path: "cpu", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}},
		},
	}}}}
	mounts, err := newManager(t).Setup(pod, nil, Fields{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	mount := mounts["info"]
	if !mount.ReadOnly {
		t.Error("downwardAPI volume not read-only")
	}
	want := map[string]string{"name": "web", "meta/labels": "app=\"web\"\ntier=\"front\"", "cpu": "1500"}
	if got := visible(t, mount.HostPath); !maps.Equal(got, want) {
		t.Errorf("files = %q, want %q", got, want)
	}
	if got := modeAt(t, mount.HostPath, "name"); got != 0o444 {
		t.Errorf("mode of name = %v, want 0444", got)
	}
	if got := modeAt(t, mount.HostPath, "meta/labels"); got != 0o400 {
		t.Errorf("mode of meta/labels = %v, want 0400", got)
	}
}

func TestDownwardAPIVolumeErrors(t *testing.T) {
	pod := downwardPod()
	pod.Spec.Volumes = []v1.Volume{{Name: "info", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{
		Items: []v1.DownwardAPIVolumeFile{
			{Path: "ok", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "field", FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.containers"}},
			{Path: "res", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "ghost", Resource: "limits.cpu"}},
			{Path: "../up", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "empty"},
		},
	}}}}
	_, err := newManager(t).Setup(pod, nil, Fields{})
	requireErrContains(t, err,
		"volume info:",
		`downwardAPI item field: fieldPath "spec.containers" is not supported`,
		`downwardAPI item res: container "ghost" not found`,
		"downwardAPI item ../up: path \"../up\" must not contain '..'",
		"downwardAPI item empty: neither fieldRef nor resourceFieldRef")
}
