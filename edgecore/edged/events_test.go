package edged

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/containerd"
)

// Why edged stops a container is said in the kubelet's words.
func TestKillMessage(t *testing.T) {
	c := &v1.Container{Name: "app"}
	for why, want := range map[string]string{
		whySpecChanged: "Container app definition changed, will be restarted",
		whyLiveness:    "Container app failed liveness probe, will be restarted",
		whyStartup:     "Container app failed startup probe, will be restarted",
		whyDeleted:     "Stopping container app",
	} {
		if got := killMessage(c, why); got != want {
			t.Errorf("killMessage(%q) = %q, want %q", why, got, want)
		}
	}
}

// An image is pulled although present only by Always, or by no policy
// for :latest or no tag, as the API server defaults it.
func TestPullsAlways(t *testing.T) {
	for _, tt := range []struct {
		image  string
		policy containerd.PullPolicy
		want   bool
	}{
		{"nginx", containerd.PullAlways, true},
		{"nginx:1.27", containerd.PullAlways, true},
		{"nginx", containerd.PullIfNotPresent, false},
		{"nginx", containerd.PullNever, false},
		{"nginx", "", true},
		{"nginx:latest", "", true},
		{"registry.local:5000/app:v1", "", false},
		{"nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123", "", false},
		{"Not A Ref", "", false},
	} {
		if got := pullsAlways(tt.image, tt.policy); got != tt.want {
			t.Errorf("pullsAlways(%q, %q) = %v, want %v", tt.image, tt.policy, got, tt.want)
		}
	}
}

// A back-off is announced once, on the first look after the failure that
// began it; the next failure's back-off is news again.
func TestNoteBackOff(t *testing.T) {
	w := newWorker(nil, &v1.Pod{})
	first, second := time.Unix(100, 0), time.Unix(200, 0)
	for i, tt := range []struct {
		kind  string
		since time.Time
		want  bool
	}{
		{"pull", first, true},
		{"pull", first, false},
		{"crash", first, true}, // another kind of back-off of the same container
		{"pull", second, true},
		{"pull", second, false},
	} {
		if got := w.noteBackOff(tt.kind, "app", tt.since); got != tt.want {
			t.Errorf("look %d (%s since %v): %v, want %v", i, tt.kind, tt.since.Unix(), got, tt.want)
		}
	}
}
