package volume

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "k8s.io/api/core/v1"
)

// tokenPod is a pod of service account runner with the kube-api-access
// volume, changed by mutate.
func tokenPod(mutate ...func(*v1.Pod)) *v1.Pod {
	pod := newPod(kubeAPIAccess("kube-api-access-x7k2p"))
	pod.Spec.ServiceAccountName = "runner"
	for _, m := range mutate {
		m(pod)
	}
	return pod
}

func tokenSources() fakeSources {
	return fakeSources{configMaps: map[string]*v1.ConfigMap{
		testNS + "/" + rootCAConfigMap: configMap(rootCAConfigMap, map[string]string{"ca.crt": "PEM"}, nil),
	}}
}

// TestTokenRequest: the request is kubelet's: the pod's service account,
// bound to the pod, the source's lifetime, no audience unless the source
// names one.
func TestTokenRequest(t *testing.T) {
	var asked []tokenAsk
	src := tokenSources()
	src.asked = &asked
	pod := tokenPod()
	if _, err := newManager(t).Setup(pod, src, Fields{}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 {
		t.Fatalf("%d token requests, want 1", len(asked))
	}
	a := asked[0]
	ref := a.tr.Spec.BoundObjectRef
	if a.namespace != testNS || a.name != "runner" || a.tr.Spec.Audiences != nil ||
		a.tr.Spec.ExpirationSeconds == nil || *a.tr.Spec.ExpirationSeconds != 3607 ||
		ref == nil || ref.APIVersion != "v1" || ref.Kind != "Pod" || ref.Name != "web" || ref.UID != testUID {
		t.Errorf("token request for %s/%s: %+v (bound to %+v)", a.namespace, a.name, a.tr.Spec, ref)
	}
}

func TestTokenFileModes(t *testing.T) {
	if testing.Short() {
		t.Skip("changes file owners")
	}
	requireRoot(t, "chown to the pod's user")
	gid, uid := int64(2000), int64(1000)
	tests := []struct {
		name     string
		mutate   func(*v1.Pod)
		mode     os.FileMode
		owner    uint32
		group    uint32
		checkGrp bool
	}{
		{"defaultMode", nil, 0o644, 0, 0, false},
		{"fsGroup: 0600 plus group read", func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: &gid} }, 0o640, 0, 2000, true},
		{"every container runs as one user: owned by it, 0600", func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{RunAsUser: &uid} }, 0o600, 1000, 0, false},
		{"containers of different users: defaultMode, root's", func(p *v1.Pod) {
			p.Spec.SecurityContext = &v1.PodSecurityContext{RunAsUser: &uid}
			other := int64(1001)
			p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: "side", SecurityContext: &v1.SecurityContext{RunAsUser: &other}})
		}, 0o644, 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mutate []func(*v1.Pod)
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			mounts, err := newManager(t).Setup(tokenPod(mutate...), tokenSources(), Fields{})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(mounts["kube-api-access-x7k2p"].HostPath, "token")
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			st := info.Sys().(*syscall.Stat_t)
			if modeOf(info) != tc.mode || st.Uid != tc.owner || (tc.checkGrp && st.Gid != tc.group) {
				t.Errorf("token file mode %v owner %d:%d, want %v %d:%d", modeOf(info), st.Uid, st.Gid, tc.mode, tc.owner, tc.group)
			}
		})
	}
}

// TestTokenRefreshAndFailure: a new token replaces the file atomically;
// when asking fails, the volume keeps the token it has and Setup says why.
func TestTokenRefreshAndFailure(t *testing.T) {
	m := newManager(t)
	serial := 0
	src := tokenSources()
	src.serial = &serial
	pod := tokenPod()
	mounts, err := m.Setup(pod, src, Fields{})
	if err != nil {
		t.Fatal(err)
	}
	dir := mounts["kube-api-access-x7k2p"].HostPath
	if got := visible(t, dir)["token"]; got != "jwt:ns/runner:web:[]:1" {
		t.Fatalf("first token %q", got)
	}
	if _, err := m.Setup(pod, src, Fields{}); err != nil {
		t.Fatal(err)
	}
	before := visible(t, dir)
	if before["token"] != "jwt:ns/runner:web:[]:2" {
		t.Fatalf("refreshed token %q", before["token"])
	}
	src.tokenErr = errors.New("token expired and refresh failed")
	_, err = m.Setup(pod, src, Fields{})
	requireErrContains(t, err, "volume kube-api-access-x7k2p:", "serviceAccountToken: token expired and refresh failed")
	if after := visible(t, dir); !maps.Equal(after, before) {
		t.Errorf("volume after a failed refresh %q, want %q kept", after, before)
	}
}

func TestTokenWithoutServiceAccount(t *testing.T) {
	_, err := newManager(t).Setup(tokenPod(func(p *v1.Pod) { p.Spec.ServiceAccountName = "" }), tokenSources(), Fields{})
	requireErrContains(t, err, "serviceAccountToken: the pod names no service account")
}

func TestFSUser(t *testing.T) {
	u := func(v int64) *int64 { return &v }
	withUser := func(pod *v1.PodSecurityContext, users ...*int64) *v1.Pod {
		p := &v1.Pod{Spec: v1.PodSpec{SecurityContext: pod}}
		for i, user := range users {
			c := v1.Container{Name: string(rune('a' + i))}
			if user != nil {
				c.SecurityContext = &v1.SecurityContext{RunAsUser: user}
			}
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
		return p
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want *int64
	}{
		{"nobody sets a user", withUser(nil, nil), nil},
		{"the pod's user", withUser(&v1.PodSecurityContext{RunAsUser: u(7)}, nil, nil), u(7)},
		{"containers agree", withUser(nil, u(5), u(5)), u(5)},
		{"containers differ", withUser(nil, u(5), u(6)), nil},
		{"one container has none", withUser(nil, u(5), nil), nil},
		{"a container overrides the pod's, the same", withUser(&v1.PodSecurityContext{RunAsUser: u(7)}, u(7), nil), u(7)},
		{"an init container of another user", func() *v1.Pod {
			p := withUser(nil, u(5))
			p.Spec.InitContainers = []v1.Container{{Name: "i", SecurityContext: &v1.SecurityContext{RunAsUser: u(0)}}}
			return p
		}(), nil},
	}
	for _, tc := range tests {
		got := fsUser(tc.pod)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("%s: fsUser = %v, want %v", tc.name, deref(got), deref(tc.want))
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
