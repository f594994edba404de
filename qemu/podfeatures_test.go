package qemu

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// What a kubelet gives a pod beyond its containers, as the web pod's
// containers see it.
const (
	// memSizeLimit is web's memory emptyDir's sizeLimit, and memTmpfsSize
	// the size its tmpfs shows in mountinfo.
	memSizeLimit = "8Mi"
	memTmpfsSize = "size=8192k"
	// side writes the namespaces it runs in to these files, one in the
	// memory emptyDir and one in /dev/shm, both shared with app.
	sideNamespacesFile = "/mem/side-ns"
	sideShmFile        = "/dev/shm/side-ns"
	// hostIPCNamespace is the gateway's own IPC namespace: the kernel's
	// initial one has a fixed inode (PROC_IPC_INIT_INO).
	hostIPCNamespace = "ipc:[4026531839]"
	// saTokenFile is the token of the kube-api-access volume.
	saTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// testServiceAccountToken reads web's token and asks the API server who
// it is: web's service account, bound to web.
func (n *podNode) testServiceAccountToken(t *testing.T) {
	pod := n.getPodOrFail(t, "web")
	token, ok := n.webGet(t, "/file?path="+saTokenFile)
	if !ok {
		return
	}
	if parts := strings.Split(token, "."); len(parts) != 3 {
		t.Fatalf("%s holds %d dot-separated parts, not a JWT", saTokenFile, len(parts))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	review, err := n.kube.Client().AuthenticationV1().TokenReviews().Create(ctx,
		&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := review.Status.User
	if !review.Status.Authenticated || u.Username != "system:serviceaccount:"+n.ns+":default" ||
		!oneValue(u.Extra["authentication.kubernetes.io/pod-name"], "web") ||
		!oneValue(u.Extra["authentication.kubernetes.io/pod-uid"], string(pod.UID)) {
		t.Errorf("the API server's review of web's token: %+v", review.Status)
	}
}

func oneValue(values authenticationv1.ExtraValue, want string) bool {
	return len(values) == 1 && values[0] == want
}

// testMemoryEmptyDir reads app's mountinfo: /mem is a tmpfs of the
// volume's sizeLimit, and side's file on it is there.
func (n *podNode) testMemoryEmptyDir(t *testing.T) {
	mounts, ok := n.webGet(t, "/file?path=/proc/self/mountinfo")
	if !ok {
		return
	}
	fstype, options, found := mountAt(mounts, "/mem")
	if !found || fstype != "tmpfs" || !strings.Contains(","+options+",", ","+memTmpfsSize+",") {
		t.Errorf("/mem in app's mountinfo: found %v, %s with %q; want a tmpfs with %s\n%s", found, fstype, options, memTmpfsSize, mounts)
	}
	if got, ok := n.webGet(t, "/file?path="+sideNamespacesFile); ok && !strings.Contains(got, "ipc ") {
		t.Errorf("side's %s seen from app: %q", sideNamespacesFile, got)
	}
}

// mountAt finds the mount at dir in a mountinfo text: its filesystem type
// and its superblock options.
func mountAt(mountinfo, dir string) (fstype, options string, found bool) {
	for _, line := range strings.Split(mountinfo, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) > 4 && f[4] == dir && len(g) >= 3 {
			fstype, options, found = g[0], g[2], true // the last mount there wins
		}
	}
	return fstype, options, found
}

// testPodIPC compares the namespaces app runs in with those side wrote
// down: one IPC namespace (not the gateway's) and one network namespace,
// and side's file in /dev/shm seen by app.
func (n *podNode) testPodIPC(t *testing.T) {
	appNS, ok := n.webGet(t, "/ns")
	if !ok {
		return
	}
	sideNS, ok := n.webGet(t, "/file?path="+sideNamespacesFile)
	if !ok {
		return
	}
	app, side := parseNamespaces(appNS), parseNamespaces(sideNS)
	if app["ipc"] == "" || app["ipc"] != side["ipc"] || app["ipc"] == hostIPCNamespace {
		t.Errorf("IPC namespaces: app %s, side %s (the gateway's is %s); want one of the pod's own", app["ipc"], side["ipc"], hostIPCNamespace)
	}
	if app["net"] == "" || app["net"] != side["net"] {
		t.Errorf("network namespaces: app %s, side %s; want one", app["net"], side["net"])
	}
	if viaShm, ok := n.webGet(t, "/file?path="+sideShmFile); ok && viaShm != sideNS {
		t.Errorf("side's %s seen from app holds %q, want %q: /dev/shm is not shared", sideShmFile, viaShm, sideNS)
	}
}

// parseNamespaces reads podapp's "<name> <link>" lines.
func parseNamespaces(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if name, link, ok := strings.Cut(line, " "); ok {
			out[name] = link
		}
	}
	return out
}

// evictedPod fills its emptyDir, of sizeLimit 1Mi, with 4 MiB: the node
// evicts it.
func (n *podNode) evictedPod() *v1.Pod {
	main := n.container("main", "fill", "/scratch/big", "4")
	main.VolumeMounts = []v1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}
	pod := n.pod("evicted", v1.RestartPolicyAlways, main)
	limit := resource.MustParse("1Mi")
	pod.Spec.Volumes = []v1.Volume{{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{SizeLimit: &limit}}}}
	return pod
}

// evicted: Failed with the kubelet's reason and message, and its container
// not running.
func evicted(p *v1.Pod) bool {
	cs := containerStatus(p.Status.ContainerStatuses, "main")
	return p.Status.Phase == v1.PodFailed && p.Status.Reason == "Evicted" &&
		strings.Contains(p.Status.Message, `Usage of EmptyDir volume "scratch" exceeds the limit "1Mi".`) &&
		cs != nil && cs.State.Running == nil
}
