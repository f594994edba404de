package qemu

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/kubeapi"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/qemu/registry"
)

// TestPods runs pods on a gateway the way a cluster user would: through
// the API server only. Each board's image joins a test cloud with edged
// enabled, and its containerd pulls the podapp image from a registry on
// the host that wants a password (the pods' image pull secret).
//
//   - web: an init container, a configMap volume, a secret in the
//     environment, an emptyDir shared with the init container, a memory
//     emptyDir shared with the side container, a readiness probe, a
//     hostPort and the gateway's /proc (as node exporters mount it); it
//     reaches Running and Ready, and the host reads through the hostPort (a
//     QEMU forward) what each of those put in the container.
//   - what only the guest shows of web: its service account token is one
//     the API server accepts for the pod; the memory emptyDir is a tmpfs of
//     its sizeLimit; its two containers share one IPC namespace (not the
//     gateway's) and one /dev/shm.
//   - exposure: /var is mounted nosuid,nodev, and a hostNetwork pod's
//     port, which nothing publishes, does not answer through a QEMU
//     forward (the gateway's firewall) while web's hostPort does.
//   - a UDP hostPort: a pod's UDP echo answers the host through a QEMU
//     UDP forward.
//   - web's app container moves to another image: it is replaced (one
//     restart) and runs the new digest, the pod Ready again.
//   - pods that fail in the kubelet's known ways report its reasons:
//     CrashLoopBackOff, OOMKilled, CreateContainerConfigError, ErrImagePull
//     or ImagePullBackOff, Evicted (an emptyDir past its sizeLimit); web
//     runs on, untouched.
//   - web deleted with its grace period is gone from the API server
//     within that period and a margin: the edge stopped it and confirmed
//     the deletion.
func TestPods(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU with containerd and runs a Kubernetes API server and a registry")
	}
	c := newPodCluster(t)
	for _, b := range []boards.Board{boards.QEMUArm64(), boards.QEMUArmv7()} {
		t.Run(b.Name, func(t *testing.T) {
			began := time.Now()
			n := bootPodNode(t, c, b)
			n.createObjects(t)
			web := t.Run("web", n.testWeb)
			if web {
				t.Run("service account token", n.testServiceAccountToken)
				t.Run("memory emptyDir", n.testMemoryEmptyDir)
				t.Run("pod IPC namespace", n.testPodIPC)
				t.Run("exposure", n.testExposure)
				t.Run("udp hostPort", n.testUDPHostPort)
				t.Run("image update", n.testImageUpdate)
			}
			t.Run("failing pods", func(t *testing.T) { n.testFailingPods(t, web) })
			if web {
				t.Run("delete", n.testDelete)
			}
			n.checkNothingRefused(t)
			powerdown(t, n.m)
			t.Logf("%s: %s from image build to power off", b.Name, time.Since(began).Round(time.Second))
		})
	}
}

const (
	// webHostPort is the web pod's hostPort on the guest, which QEMU
	// forwards to a free port on the host's loopback.
	webHostPort = 18080
	// webGrace is the web pod's terminationGracePeriodSeconds.
	webGrace = 10
	// deleteMargin is how long past the grace period the edge may take to
	// stop a pod and confirm its deletion, under emulation.
	deleteMargin = 30 * time.Second
	podappRepo   = "e2e/podapp"
	registryUser = "edge"
	pullSecret   = "regcred"
)

// podCluster is what every board's run shares: the API server, the
// registry on the host and the two podapp images in it.
type podCluster struct {
	kube     *kubeapi.Server
	reg      *registry.Registry
	password string
	// The digests the tags v1 and v2 point at; v2 differs from v1 only
	// in its environment (PODAPP_VERSION).
	v1Digest, v2Digest string
}

func newPodCluster(t testing.TB) *podCluster {
	t.Helper()
	c := &podCluster{kube: kubeapi.Shared(t), password: rand.Text()}
	c.reg = registry.Start(t, registry.Options{User: registryUser, Password: c.password})
	bins := map[string][]byte{
		"linux/arm64":  registry.BuildPodapp(t, "arm64", ""),
		"linux/arm/v7": registry.BuildPodapp(t, "arm", "7"),
	}
	c.v1Digest = c.push(t, "v1", registry.BuildImage(bins, "/podapp", nil, []string{"PODAPP_VERSION=v1"}))
	c.v2Digest = c.push(t, "v2", registry.BuildImage(bins, "/podapp", nil, []string{"PODAPP_VERSION=v2"}))
	if c.v1Digest == c.v2Digest {
		t.Fatalf("podapp v1 and v2 have the same digest %s", c.v1Digest)
	}
	c.push(t, setuidTag, registry.BuildSetuidImage(bins, "/podapp", nil, []string{"PODAPP_VERSION=v1"}))
	return c
}

func (c *podCluster) push(t testing.TB, tag string, img registry.Image) string {
	t.Helper()
	digest, err := c.reg.Push(t.Context(), podappRepo, tag, img)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// registryHost is the registry as the guest reaches it.
func (c *podCluster) registryHost() string { return "10.0.2.2:" + c.reg.Port() }

// repo is podapp's repository, as pods name it and imageIDs report it.
func (c *podCluster) repo() string { return c.registryHost() + "/" + podappRepo }

func (c *podCluster) image(tag string) string { return c.repo() + ":" + tag }

// hostsFile tells containerd's resolver (edged's pulls read
// /etc/containerd/certs.d as containerd's CRI does) that the registry
// speaks plain HTTP.
func (c *podCluster) hostsFile() image.ExtraFile {
	server := "http://" + c.registryHost()
	return image.ExtraFile{
		Path: "/etc/containerd/certs.d/" + c.registryHost() + "/hosts.toml",
		Data: fmt.Appendf(nil, "server = %q\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", server, server),
	}
}

// pullSecretData is the .dockerconfigjson of the registry's user, with
// both the split fields and "auth", as kubectl create secret writes it.
func (c *podCluster) pullSecretData(t testing.TB) []byte {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(registryUser + ":" + c.password))
	data, err := json.Marshal(map[string]any{"auths": map[string]any{
		c.registryHost(): map[string]string{"username": registryUser, "password": c.password, "auth": auth},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// podNode is one board's gateway, joined to the cluster as node name,
// running its pods in namespace ns.
type podNode struct {
	*podCluster
	name, ns string
	board    boards.Board
	cloud    *testcloud.Cloud
	disk     string
	memory   int // guest MiB; 0: the board's
	m        *Machine
	webPort  int // the host port QEMU forwards to webHostPort
	udpPort  int // the host UDP port QEMU forwards to udpHostPort
	// closedPort is the host port QEMU forwards to closedGuestPort.
	closedPort int
	// The values of the web pod's configmap and secret.
	greeting, token string
}

// bootPodNode builds b's image with containerd and edgecore (edged on),
// boots it and waits until its node is Ready in the API server.
func bootPodNode(t testing.TB, c *podCluster, b boards.Board) *podNode {
	t.Helper()
	return bootPodNodeWith(t, c, b, nodeSettings{})
}

// nodeSettings vary a pod node from the default.
type nodeSettings struct {
	// prefix names the node (<prefix>-<arch>, "gw-pods" by default) and
	// its namespace, so tests sharing the API server do not meet.
	prefix    string
	memoryMiB int    // guest memory; 0: the board's
	kubelet   string // more tailoredKubeletConfig lines, indented six spaces
}

// bootPodNodeWith is bootPodNode with settings s.
func bootPodNodeWith(t testing.TB, c *podCluster, b boards.Board, s nodeSettings) *podNode {
	t.Helper()
	if s.prefix == "" {
		s.prefix = "gw-pods"
	}
	n := &podNode{
		memory:     s.memoryMiB,
		podCluster: c, name: s.prefix + "-" + string(b.Arch), ns: s.prefix + "-" + string(b.Arch), board: b,
		greeting: "hello from the cloud to " + b.Name, token: rand.Text(), webPort: freeLoopbackPort(t),
		disk: filepath.Join(t.TempDir(), "gw.img"), closedPort: freeLoopbackPort(t), udpPort: freeLoopbackUDPPort(t),
	}
	n.cloud = testcloud.ForTest(t, testcloud.Options{Kube: c.kube.Client()})
	token, err := n.cloud.Token(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: n.disk, Cache: testCache(t), Containerd: true, Edgecore: true,
		EdgecoreConfig: podsEdgecoreConfig(t, n.name, n.cloud, token, s.kubelet),
		Extra:          []image.ExtraFile{c.hostsFile()},
	}); err != nil {
		t.Fatal(err)
	}
	n.boot(t)
	n.waitConnected(t)
	n.waitNodeReady(t)
	return n
}

// boot starts the node's disk under QEMU, the first time or again after
// a power off, with the web hostPort forwarded.
func (n *podNode) boot(t testing.TB) {
	t.Helper()
	m, err := Start(context.Background(), Config{
		Board: n.board, Image: n.disk, Path: Direct, MemoryMiB: n.memory,
		Forwards: []Forward{{HostPort: n.webPort, GuestPort: webHostPort}, {HostPort: n.closedPort, GuestPort: closedGuestPort},
			{HostPort: n.udpPort, GuestPort: udpHostPort, UDP: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	n.m = m
}

// connectedLine is the console line of edgehub's link to the cloud.
func (n *podNode) connectedLine(t testing.TB) string {
	return `edgehub: connected to ` + strings.ReplaceAll(guestAddr(t, n.cloud.WSServer()), ".", `\.`) + ` as ` + n.name
}

func (n *podNode) waitConnected(t testing.TB) {
	t.Helper()
	expectWithin(t, n.m, n.connectedLine(t), ctrdTimeout)
}

// podsEdgecoreConfig is the README's join example (the cloud at 10.0.2.2)
// with this cloud's ports, the node's name, and edged enabled.
func podsEdgecoreConfig(t testing.TB, node string, cloud *testcloud.Cloud, token, kubelet string) []byte {
	t.Helper()
	return joinEdgecoreConfig(t, node, cloud, token,
		"    enable: true\n    tailoredKubeletConfig:\n      nodeStatusUpdateFrequency: 10s\n"+kubelet+"\n")
}

// joinEdgecoreConfig joins cloud through QEMU's user network as node, with
// edged's settings (lines indented under modules.edged) as given.
func joinEdgecoreConfig(t testing.TB, node string, cloud *testcloud.Cloud, token, edged string) []byte {
	t.Helper()
	return fmt.Appendf(nil, `apiVersion: edgecore.config.kubeedge.io/v1alpha2
kind: EdgeCore
modules:
  edged:
    hostnameOverride: %s
%s  edgeHub:
    enable: true
    httpServer: https://%s
    token: %s
    websocket:
      enable: true
      server: %s
`, node, edged, guestAddr(t, strings.TrimPrefix(cloud.HTTPServer(), "https://")), token, guestAddr(t, cloud.WSServer()))
}

// guestAddr is where the guest reaches a host loopback address: QEMU's
// user network shows the host as 10.0.2.2.
func guestAddr(t testing.TB, hostAddr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(hostAddr)
	if err != nil {
		t.Fatalf("cloud address %q: %v", hostAddr, err)
	}
	return "10.0.2.2:" + port
}

// freeLoopbackPort picks a port nobody listens on now, for QEMU to take.
func freeLoopbackPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (n *podNode) waitNodeReady(t testing.TB) {
	t.Helper()
	began := time.Now()
	var err error
	for {
		var node *v1.Node
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		node, err = n.kube.Client().CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		cancel()
		if err == nil && ready(node) {
			t.Logf("node %s Ready %s after boot", n.name, time.Since(n.m.Started).Round(time.Second))
			if got := node.Labels[nodestatus.BoardLabel]; got != n.board.Name {
				t.Errorf("node label %s = %q, want %q", nodestatus.BoardLabel, got, n.board.Name)
			}
			return
		}
		if time.Since(began) > ctrdTimeout {
			t.Fatalf("node %s not Ready within %s (%v)\n--- console tail ---\n%s", n.name, ctrdTimeout, err, tail(n.m.Console.String(), 6000))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// createObjects makes the namespace (with the default service account and
// kube-root-ca.crt, which every pod's service account volume projects) and
// what the pods refer to: the web pod's configmap and secret, and the
// image pull secret.
func (n *podNode) createObjects(t testing.TB) {
	t.Helper()
	ctx := t.Context()
	if err := n.kube.EnsureNamespace(ctx, n.ns); err != nil {
		t.Fatal(err)
	}
	core := n.kube.Client().CoreV1()
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: n.ns} }
	config := &v1.ConfigMap{ObjectMeta: meta("app-config"), Data: map[string]string{"greeting": n.greeting}}
	if _, err := core.ConfigMaps(n.ns).Create(ctx, config, metav1.CreateOptions{}); err != nil {
		t.Fatalf("configmap %s: %v", config.Name, err)
	}
	for _, s := range []*v1.Secret{
		{ObjectMeta: meta("app-secret"), Data: map[string][]byte{"token": []byte(n.token)}},
		{ObjectMeta: meta(pullSecret), Type: v1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{v1.DockerConfigJsonKey: n.pullSecretData(t)}},
	} {
		if _, err := core.Secrets(n.ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatalf("secret %s: %v", s.Name, err)
		}
	}
}

// testWeb runs the web pod and reads back through its hostPort what the
// secret, the configmap and the init container gave it.
func (n *podNode) testWeb(t *testing.T) {
	created := time.Now()
	n.create(t, n.webPod())
	pod := n.waitPod(t, "web", "Running and Ready", created, runningReady)
	n.checkWebStatus(t, pod, n.v1Digest, 0)
	n.checkWebServes(t, "v1")
}

// webPod: an init container writes /work/init.txt on the emptyDir work,
// app serves HTTP on 8080 (hostPort webHostPort) with a readiness probe,
// the configmap at /config and the secret in $TOKEN, and side writes the
// namespaces it runs in to the memory emptyDir mem (at /mem in both) and
// to /dev/shm.
func (n *podNode) webPod() *v1.Pod {
	work := v1.VolumeMount{Name: "work", MountPath: "/work"}
	init := n.container("init", "write", "/work/init.txt", "initialized")
	init.VolumeMounts = []v1.VolumeMount{work}

	app := n.container("app", "serve", "--port", "8080")
	app.Env = []v1.EnvVar{
		{Name: "GREETING_FILE", Value: "/config/greeting"},
		{Name: "TOKEN", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{
			LocalObjectReference: v1.LocalObjectReference{Name: "app-secret"}, Key: "token"}}},
	}
	app.VolumeMounts = []v1.VolumeMount{{Name: "config", MountPath: "/config"}, work}
	app.ReadinessProbe = &v1.Probe{
		ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 2,
	}
	app.Ports = []v1.ContainerPort{{ContainerPort: 8080, HostPort: webHostPort}}
	app.VolumeMounts = append(app.VolumeMounts, v1.VolumeMount{Name: "hostproc", MountPath: hostProc, ReadOnly: true})
	mem := v1.VolumeMount{Name: "mem", MountPath: "/mem"}
	app.VolumeMounts = append(app.VolumeMounts, mem)
	side := n.container("side", "record-ns", sideNamespacesFile, sideShmFile)
	memLimit := resource.MustParse(memSizeLimit)
	side.VolumeMounts = []v1.VolumeMount{mem}

	pod := n.pod("web", v1.RestartPolicyAlways, app, side)
	pod.Spec.InitContainers = []v1.Container{init}
	pod.Spec.Volumes = []v1.Volume{
		{Name: "hostproc", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/proc"}}},
		{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "app-config"}}}},
		{Name: "work", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
		{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{
			Medium: v1.StorageMediumMemory, SizeLimit: &memLimit}}},
	}
	grace := int64(webGrace)
	pod.Spec.TerminationGracePeriodSeconds = &grace
	return pod
}

// pod is a pod of the namespace bound to the node (no scheduler runs),
// pulling with the registry's secret.
func (n *podNode) pod(name string, restart v1.RestartPolicy, containers ...v1.Container) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: n.ns},
		Spec: v1.PodSpec{
			NodeName:         n.name,
			RestartPolicy:    restart,
			ImagePullSecrets: []v1.LocalObjectReference{{Name: pullSecret}},
			Containers:       containers,
		},
	}
}

// container runs podapp v1 with args (the image's entrypoint is podapp).
func (n *podNode) container(name string, args ...string) v1.Container {
	return v1.Container{Name: name, Image: n.image("v1"), Args: args}
}

// checkWebStatus checks what a Running and Ready web reports: a pod IP on
// the CNI bridge, the images' digests, the restarts, the init container
// completed.
func (n *podNode) checkWebStatus(t testing.TB, pod *v1.Pod, appDigest string, appRestarts int32) {
	t.Helper()
	var problems []string
	bridge := netip.MustParsePrefix("10.88.0.0/16")
	if ip, err := netip.ParseAddr(pod.Status.PodIP); err != nil || !bridge.Contains(ip) {
		problems = append(problems, fmt.Sprintf("podIP %q is not in %s", pod.Status.PodIP, bridge))
	}
	for _, want := range []struct {
		name     string
		digest   string
		restarts int32
	}{{"app", appDigest, appRestarts}, {"side", n.v1Digest, 0}} {
		cs := containerStatus(pod.Status.ContainerStatuses, want.name)
		switch {
		case cs == nil:
			problems = append(problems, "no status of container "+want.name)
		case !cs.Ready || cs.State.Running == nil || cs.RestartCount != want.restarts || cs.ImageID != n.repo()+"@"+want.digest:
			problems = append(problems, fmt.Sprintf("container %s: ready %v, running %v, restartCount %d, imageID %q; want ready and running, %d restarts, imageID %s@%s",
				want.name, cs.Ready, cs.State.Running != nil, cs.RestartCount, cs.ImageID, want.restarts, n.repo(), want.digest))
		}
	}
	init := containerStatus(pod.Status.InitContainerStatuses, "init")
	if init == nil || init.State.Terminated == nil || init.State.Terminated.ExitCode != 0 || init.State.Terminated.Reason != "Completed" {
		problems = append(problems, "init container not terminated with exit 0, reason Completed")
	}
	if len(problems) > 0 {
		t.Errorf("pod web: %s\n%s", strings.Join(problems, "; "), n.describe(pod))
	}
}

// checkWebServes reads through the hostPort what app got: the secret in
// its environment, the image's version, the configmap's file, the init
// container's file and the service account volume's namespace file.
func (n *podNode) checkWebServes(t testing.TB, version string) {
	t.Helper()
	if env, ok := n.webGet(t, "/env"); ok {
		for _, want := range []string{"TOKEN=" + n.token, "GREETING_FILE=/config/greeting", "PODAPP_VERSION=" + version} {
			if !strings.Contains("\n"+env, "\n"+want+"\n") {
				t.Errorf("web /env lacks %s:\n%s", want, env)
			}
		}
	}
	for file, want := range map[string]string{
		"/config/greeting": n.greeting,
		"/work/init.txt":   "initialized",
		"/var/run/secrets/kubernetes.io/serviceaccount/namespace": n.ns,
	} {
		if got, ok := n.webGet(t, "/file?path="+file); ok && got != want {
			t.Errorf("web %s holds %q, want %q", file, got, want)
		}
	}
}

// webGet fetches path from app through the forwarded hostPort. It retries
// for a while: QEMU accepts the connection on the host before the guest
// does, and a guest not answering yet shows as a reset.
func (n *podNode) webGet(t testing.TB, path string) (string, bool) {
	t.Helper()
	return n.webGetWithin(t, path, 30*time.Second)
}

// webGetWithin is webGet, retrying for d.
func (n *podNode) webGetWithin(t testing.TB, path string, d time.Duration) (string, bool) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d%s", n.webPort, path)
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(d)
	for {
		body, err := httpGet(t.Context(), client, url)
		if err == nil {
			return body, true
		}
		if time.Now().After(deadline) {
			t.Errorf("GET %s (the guest's port %d): %v\n--- console tail ---\n%s", url, webHostPort, err, tail(n.m.Console.String(), 6000))
			return "", false
		}
		time.Sleep(time.Second)
	}
}

func httpGet(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), nil
}

// testImageUpdate moves app to podapp v2: the edge replaces the container
// (restartCount 1) and runs v2's digest; side and the emptyDir stay.
func (n *podNode) testImageUpdate(t *testing.T) {
	pods := n.kube.Client().CoreV1().Pods(n.ns)
	updated := time.Now()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		pod, err := pods.Get(t.Context(), "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for i := range pod.Spec.Containers {
			if pod.Spec.Containers[i].Name == "app" {
				pod.Spec.Containers[i].Image = n.image("v2")
			}
		}
		_, err = pods.Update(t.Context(), pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating web's app to v2: %v", err)
	}
	pod := n.waitPod(t, "web", "running app from v2, Ready", updated, func(p *v1.Pod) bool {
		app := containerStatus(p.Status.ContainerStatuses, "app")
		return runningReady(p) && app != nil && app.ImageID == n.repo()+"@"+n.v2Digest && app.RestartCount == 1
	})
	n.checkWebStatus(t, pod, n.v2Digest, 1)
	n.checkWebServes(t, "v2")
}

// testFailingPods starts pods that fail in the ways the kubelet names,
// all at once (their failures take time, best spent together), and waits
// for each reason in the API server. web, when it runs, must not notice.
func (n *podNode) testFailingPods(t *testing.T, webRunning bool) {
	var webBefore *v1.Pod
	if webRunning {
		webBefore = n.getPodOrFail(t, "web")
	}
	oom := n.container("main", "alloc", "64")
	oom.Resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse("16Mi")}
	bad := n.container("main", "serve")
	bad.Env = []v1.EnvVar{{Name: "MISSING", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{
		LocalObjectReference: v1.LocalObjectReference{Name: "no-such-config"}, Key: "x"}}}}
	noImage := n.container("main", "serve")
	noImage.Image = n.registryHost() + "/e2e/nothere:v1"
	pvc := n.container("main", "serve")
	pvc.VolumeMounts = []v1.VolumeMount{{Name: "data", MountPath: "/data"}}
	noVolume := n.pod("novolume", v1.RestartPolicyAlways, pvc)
	noVolume.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{
		PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	evict := n.evictedPod()

	cases := []struct {
		pod  *v1.Pod
		what string
		done func(*v1.Pod) bool
	}{
		{n.pod("crash", v1.RestartPolicyAlways, n.container("main", "exit", "1")),
			"in CrashLoopBackOff after 2 restarts of exit 1", crashLooping},
		{n.pod("oom", v1.RestartPolicyNever, oom), "Failed with main OOMKilled", oomKilled},
		{n.pod("bad", v1.RestartPolicyAlways, bad), "waiting in CreateContainerConfigError",
			waitingFor("CreateContainerConfigError")},
		{n.pod("noimage", v1.RestartPolicyAlways, noImage), "waiting in ErrImagePull or ImagePullBackOff",
			waitingFor("ErrImagePull", "ImagePullBackOff")},
		{noVolume, "waiting in CreateContainerConfigError (a volume type this node lacks)",
			waitingFor("CreateContainerConfigError")},
		{evict, "Failed, Evicted for its emptyDir past sizeLimit", evicted},
	}
	created := time.Now()
	for _, tc := range cases {
		n.create(t, tc.pod)
	}
	for _, tc := range cases {
		t.Run(tc.pod.Name, func(t *testing.T) { n.waitPod(t, tc.pod.Name, tc.what, created, tc.done) })
	}
	t.Run("malformed update", n.testMalformedUpdate)
	if webRunning {
		t.Run("web unaffected", func(t *testing.T) { n.checkUnaffected(t, webBefore) })
	}
}

// checkUnaffected checks that web still runs and is Ready with the
// containers it had before.
// testMalformedUpdate sends the edge, as the cloud would, an update of
// noimage that no kubelet could decode (a memory limit of "lots"; the API
// server never lets one through): the pod reports the problem as
// CreateContainerConfigError, and nothing else changes.
func (n *podNode) testMalformedUpdate(t *testing.T) {
	pod := n.getPodOrFail(t, "noimage")
	rv := pod.ResourceVersion + "0" // newer than anything the edge has seen
	spec := map[string]any{
		"nodeName": n.name,
		"containers": []any{map[string]any{"name": "main", "image": pod.Spec.Containers[0].Image,
			"resources": map[string]any{"limits": map[string]any{"memory": "lots"}}}},
	}
	sent := time.Now()
	if err := n.cloud.Send(n.name, testcloud.PodMessage("update", n.ns, "noimage", string(pod.UID), rv, spec)); err != nil {
		t.Fatal(err)
	}
	got := n.waitPod(t, "noimage", "waiting in CreateContainerConfigError", sent, waitingFor("CreateContainerConfigError"))
	if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "quantities must match") {
		t.Errorf("waiting message %q does not say what is wrong", msg)
	}
}

func (n *podNode) checkUnaffected(t testing.TB, before *v1.Pod) {
	now := n.getPodOrFail(t, "web")
	if !runningReady(now) {
		t.Errorf("web no longer Running and Ready\n%s", n.describe(now))
	}
	for _, was := range before.Status.ContainerStatuses {
		is := containerStatus(now.Status.ContainerStatuses, was.Name)
		if is == nil || is.ContainerID != was.ContainerID || is.RestartCount != was.RestartCount {
			t.Errorf("web's %s changed: was %s (restartCount %d)\n%s", was.Name, was.ContainerID, was.RestartCount, n.describe(now))
		}
	}
}

func crashLooping(p *v1.Pod) bool {
	cs := containerStatus(p.Status.ContainerStatuses, "main")
	return cs != nil && cs.RestartCount >= 2 &&
		cs.State.Waiting != nil && cs.State.Waiting.Reason == "CrashLoopBackOff" &&
		cs.LastTerminationState.Terminated != nil && cs.LastTerminationState.Terminated.ExitCode == 1
}

func oomKilled(p *v1.Pod) bool {
	cs := containerStatus(p.Status.ContainerStatuses, "main")
	if cs == nil || p.Status.Phase != v1.PodFailed {
		return false
	}
	for _, term := range []*v1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
		if term != nil && term.Reason == "OOMKilled" {
			return true
		}
	}
	return false
}

// waitingFor reports whether main waits for one of reasons.
func waitingFor(reasons ...string) func(*v1.Pod) bool {
	return func(p *v1.Pod) bool {
		cs := containerStatus(p.Status.ContainerStatuses, "main")
		if cs == nil || cs.State.Waiting == nil {
			return false
		}
		for _, r := range reasons {
			if cs.State.Waiting.Reason == r {
				return true
			}
		}
		return false
	}
}

// testDelete deletes web with its grace period: the edge stops it and
// confirms, which removes it from the API server, in time.
func (n *podNode) testDelete(t *testing.T) {
	pods := n.kube.Client().CoreV1().Pods(n.ns)
	began := time.Now()
	if err := pods.Delete(t.Context(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	limit := webGrace*time.Second + deleteMargin
	for {
		pod, err := n.getPod(t, "web")
		if apierrors.IsNotFound(err) {
			t.Logf("web gone from the API server %s after its deletion", time.Since(began).Round(100*time.Millisecond))
			return
		}
		if time.Since(began) > limit {
			t.Fatalf("web still in the API server %s after its deletion (grace %ds): %v\n%s", limit, webGrace, err, n.describe(pod))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkNothingRefused fails when the cloud refused one of the edge's
// writes (a status patch the API server found invalid, say).
func (n *podNode) checkNothingRefused(t testing.TB) {
	t.Helper()
	console := n.m.Console.String()
	for _, line := range strings.Split(console, "\n") {
		if strings.Contains(line, "refused by the cloud") || strings.Contains(line, "the cloud refused") {
			t.Errorf("the cloud refused something: %s", strings.TrimSpace(line))
		}
	}
}

func (n *podNode) create(t testing.TB, pod *v1.Pod) {
	t.Helper()
	if _, err := n.kube.Client().CoreV1().Pods(n.ns).Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod %s: %v", pod.Name, err)
	}
}

func (n *podNode) getPod(t testing.TB, name string) (*v1.Pod, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return n.kube.Client().CoreV1().Pods(n.ns).Get(ctx, name, metav1.GetOptions{})
}

func (n *podNode) getPodOrFail(t testing.TB, name string) *v1.Pod {
	t.Helper()
	pod, err := n.getPod(t, name)
	if err != nil {
		t.Fatalf("pod %s: %v", name, err)
	}
	return pod
}

// waitPod polls the API server until done holds for the pod, for at most
// ctrdTimeout after since, the change that should bring it about (pods
// made together share their deadline). On failure it shows the pod's last
// status and the console.
func (n *podNode) waitPod(t testing.TB, name, what string, since time.Time, done func(*v1.Pod) bool) *v1.Pod {
	t.Helper()
	for {
		pod, err := n.getPod(t, name)
		if err == nil && done(pod) {
			t.Logf("pod %s %s %s after it was made or changed", name, what, time.Since(since).Round(100*time.Millisecond))
			return pod
		}
		if time.Since(since) > ctrdTimeout {
			t.Fatalf("pod %s not %s within %s (%v)\n%s", name, what, ctrdTimeout, err, n.describe(pod))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// describe is the pod's status as the API server holds it, and the end of
// the guest's console.
func (n *podNode) describe(pod *v1.Pod) string {
	status := "(no pod)"
	if pod != nil {
		data, err := yaml.Marshal(struct {
			DeletionTimestamp *metav1.Time `json:"deletionTimestamp,omitempty"`
			Status            v1.PodStatus `json:"status"`
		}{pod.DeletionTimestamp, pod.Status})
		if err != nil {
			data = []byte(err.Error())
		}
		status = string(data)
	}
	return "--- pod " + n.ns + "/" + podName(pod) + " in the API server ---\n" + status +
		"--- console tail ---\n" + tail(n.m.Console.String(), 6000)
}

func podName(pod *v1.Pod) string {
	if pod == nil {
		return "?"
	}
	return pod.Name
}

func runningReady(p *v1.Pod) bool {
	if p.Status.Phase != v1.PodRunning {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func containerStatus(statuses []v1.ContainerStatus, name string) *v1.ContainerStatus {
	for i := range statuses {
		if statuses[i].Name == name {
			return &statuses[i]
		}
	}
	return nil
}

// TestNetdevForwards checks the user network's host forwards: each on the
// host's loopback only, to the guest's port.
func TestNetdevForwards(t *testing.T) {
	for _, tc := range []struct {
		name     string
		forwards []Forward
		want     string
	}{
		{"none", nil, "user,id=n0"},
		{"one", []Forward{{HostPort: 40001, GuestPort: 18080}}, "user,id=n0,hostfwd=tcp:127.0.0.1:40001-:18080"},
		{"two", []Forward{{HostPort: 40001, GuestPort: 80}, {HostPort: 40002, GuestPort: 443}},
			"user,id=n0,hostfwd=tcp:127.0.0.1:40001-:80,hostfwd=tcp:127.0.0.1:40002-:443"},
		{"udp", []Forward{{HostPort: 40001, GuestPort: 18080}, {HostPort: 40003, GuestPort: 5683, UDP: true}},
			"user,id=n0,hostfwd=tcp:127.0.0.1:40001-:18080,hostfwd=udp:127.0.0.1:40003-:5683"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Machine{workDir: t.TempDir()}
			args, err := m.args(Config{Board: boards.QEMUArm64(), Path: Kernel, Forwards: tc.forwards})
			if err != nil {
				t.Fatal(err)
			}
			if got := argAfter(args, "-netdev"); got != tc.want {
				t.Errorf("-netdev %q, want %q", got, tc.want)
			}
		})
	}
}

func argAfter(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}
