package edged

import (
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/containerd"
)

// A pod whose spec does not decode (a quantity no parser takes) still
// becomes a pod, marked with why, so that its containers report the
// problem instead of the pod vanishing; content that is no pod at all is
// refused.
func TestParsePod(t *testing.T) {
	for _, tt := range []struct {
		name, json string
		wantErr    string
		invalid    string // substring of the invalid-pod annotation
		containers []string
	}{
		{name: "valid", json: `{"metadata":{"name":"web","namespace":"apps","uid":"u1"},"spec":{"containers":[{"name":"app","image":"nginx"}]}}`,
			containers: []string{"app"}},
		{name: "bad quantity", json: `{"metadata":{"name":"web","namespace":"apps","uid":"u1"},"spec":{"nodeName":"gw","initContainers":[{"name":"setup","image":"busybox"}],"containers":[{"name":"app","image":"nginx","resources":{"limits":{"memory":"lots"}}}]}}`,
			invalid: "quantities must match", containers: []string{"setup", "app"}},
		{name: "wrong type in spec", json: `{"metadata":{"name":"web","namespace":"apps","uid":"u1"},"spec":{"containers":[{"name":"app","image":"nginx","ports":"80"}]}}`,
			invalid: "does not decode", containers: []string{"app"}},
		{name: "no uid", json: `{"metadata":{"name":"web"},"spec":{}}`, wantErr: "metadata.uid is empty"},
		{name: "not json", json: `pod`, wantErr: "content is not a pod"},
		{name: "bad spec and no name", json: `{"metadata":{"uid":"u"},"spec":{"containers":"x"}}`, wantErr: "content is not a pod"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parsePod([]byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Annotations[invalidPodAnnotation]; (tt.invalid == "") != (got == "") || !strings.Contains(got, tt.invalid) {
				t.Fatalf("invalid annotation %q, want %q", got, tt.invalid)
			}
			var names []string
			for _, c := range allContainers(p) {
				names = append(names, c.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.containers, ",") {
				t.Fatalf("containers %v, want %v", names, tt.containers)
			}
		})
	}
}

func TestShouldRestart(t *testing.T) {
	ok, fail := &containerd.Exit{Code: 0}, &containerd.Exit{Code: 1}
	for _, tt := range []struct {
		policy v1.RestartPolicy
		init   bool
		exit   *containerd.Exit
		want   bool
	}{
		{v1.RestartPolicyAlways, false, ok, true},
		{v1.RestartPolicyAlways, false, fail, true},
		{v1.RestartPolicyOnFailure, false, ok, false},
		{v1.RestartPolicyOnFailure, false, fail, true},
		{v1.RestartPolicyNever, false, fail, false},
		{v1.RestartPolicyNever, false, ok, false},
		// Init containers run to completion: rerun after a failure unless Never.
		{v1.RestartPolicyAlways, true, ok, false},
		{v1.RestartPolicyAlways, true, fail, true},
		{v1.RestartPolicyOnFailure, true, fail, true},
		{v1.RestartPolicyNever, true, fail, false},
		// No exit recorded (created, never started): start it.
		{v1.RestartPolicyNever, false, nil, true},
	} {
		if got := shouldRestart(tt.policy, tt.init, tt.exit); got != tt.want {
			t.Errorf("shouldRestart(%s, init %v, %+v) = %v, want %v", tt.policy, tt.init, tt.exit, got, tt.want)
		}
	}
}

func TestGracePeriod(t *testing.T) {
	secs := func(n int64) *int64 { return &n }
	for _, tt := range []struct {
		name          string
		spec, deleted *int64
		want          time.Duration
	}{
		{"default", nil, nil, 30 * time.Second},
		{"spec", secs(10), nil, 10 * time.Second},
		{"deletion wins", secs(10), secs(3), 3 * time.Second},
		{"floor", secs(0), nil, minGrace},
		{"forced deletion", secs(30), secs(0), minGrace},
	} {
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionGracePeriodSeconds: tt.deleted}}
		p.Spec.TerminationGracePeriodSeconds = tt.spec
		if got := gracePeriod(p); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// A new image (or any spec change) changes the hash that decides whether
// a running container is replaced; the same spec keeps it.
func TestSpecHash(t *testing.T) {
	a := &v1.Container{Name: "app", Image: "podapp:v1", Args: []string{"serve"}}
	b := a.DeepCopy()
	if specHash(a) != specHash(b) {
		t.Fatal("equal specs hash differently")
	}
	b.Image = "podapp:v2"
	if specHash(a) == specHash(b) {
		t.Fatal("a new image keeps the hash")
	}
}

func TestHostPorts(t *testing.T) {
	p := &v1.Pod{Spec: v1.PodSpec{
		InitContainers: []v1.Container{{Name: "init", Ports: []v1.ContainerPort{{ContainerPort: 1, HostPort: 0}}}},
		Containers: []v1.Container{
			{Name: "web", Ports: []v1.ContainerPort{{ContainerPort: 8080, HostPort: 80, Protocol: v1.ProtocolTCP}, {ContainerPort: 9090}}},
			{Name: "dns", Ports: []v1.ContainerPort{{ContainerPort: 53, HostPort: 53, Protocol: v1.ProtocolUDP, HostIP: "10.0.2.15"}}},
		},
	}}
	got := hostPorts(p)
	if len(got) != 2 || got[0].HostPort != 80 || got[0].ContainerPort != 8080 || got[0].Protocol != "TCP" ||
		got[1].HostPort != 53 || got[1].Protocol != "UDP" || got[1].HostIP != "10.0.2.15" {
		t.Fatalf("host ports %+v", got)
	}
}
