package qemu

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// closedGuestPort is the guest port a hostNetwork pod serves on and
	// nothing publishes; QEMU forwards podNode.closedPort to it.
	closedGuestPort = 18081
	// hostProc is where web sees the gateway's /proc.
	hostProc = "/host/proc"
	// closedFor is how long the closed port is tried.
	closedFor = 10 * time.Second
	// setuidTag is podapp v1 with /podapp set-user-ID root.
	setuidTag = "v1-setuid"
	// hostnetUID is the user hostnet's container is started as.
	hostnetUID = 1000
)

// testExposure checks what the gateway exposes, with web Running: /var
// (the store, the certificates, the containers' snapshots) has no
// set-user-ID programs or device nodes, yet a container's set-user-ID
// program still works; a port the gateway itself listens on that nothing
// publishes does not answer from the network, while web's published
// hostPort does.
func (n *podNode) testExposure(t *testing.T) {
	n.checkVarFlags(t)
	if !strings.Contains(n.m.Console.String(), "firewall: input open to") {
		t.Errorf("no firewall line on the console\n--- console tail ---\n%s", tail(n.m.Console.String(), 6000))
	}
	created := time.Now()
	n.create(t, n.hostnetPod())
	// Ready means edged's probe reached the port from the gateway itself:
	// something listens there.
	n.waitPod(t, "hostnet", "Running and Ready", created, runningReady)
	n.checkSetuid(t)
	client := &http.Client{Timeout: 2 * time.Second}
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", n.closedPort)
	for end := time.Now().Add(closedFor); time.Now().Before(end); time.Sleep(time.Second) {
		if body, err := httpGet(t.Context(), client, url); err == nil {
			t.Fatalf("port %d of the gateway, which nothing publishes, answered from the network: %q", closedGuestPort, body)
		}
	}
	if _, ok := n.webGet(t, "/healthz"); !ok {
		t.Error("web's published hostPort stopped answering")
	}
}

// checkVarFlags reads init's mount table through web's view of the
// gateway's /proc.
func (n *podNode) checkVarFlags(t *testing.T) {
	t.Helper()
	mounts, ok := n.webGet(t, "/file?path="+hostProc+"/1/mountinfo")
	if !ok {
		return
	}
	for _, line := range strings.Split(mounts, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[4] != "/var" {
			continue
		}
		opts := strings.Split(f[5], ",")
		if !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "nodev") {
			t.Errorf("/var is mounted %s, want nosuid and nodev:\n%s", f[5], line)
		}
		return
	}
	t.Errorf("no /var in init's mountinfo:\n%s", mounts)
}

// hostnetPod serves on closedGuestPort in the gateway's own network
// namespace, with a readiness probe on it, started as hostnetUID from the
// set-user-ID image.
func (n *podNode) hostnetPod() *v1.Pod {
	app := n.container("app", "serve", "--port", fmt.Sprint(closedGuestPort))
	app.Image = n.image(setuidTag)
	uid := int64(hostnetUID)
	app.SecurityContext = &v1.SecurityContext{RunAsUser: &uid}
	app.ReadinessProbe = &v1.Probe{
		ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(closedGuestPort)}},
		PeriodSeconds: 2,
	}
	pod := n.pod("hostnet", v1.RestartPolicyAlways, app)
	pod.Spec.HostNetwork = true
	return pod
}

// checkSetuid finds hostnet's server among the gateway's processes (web
// sees them through the gateway's /proc) and checks that it runs as root,
// started as hostnetUID: set-user-ID programs work in a container's root,
// an overlay mount, though its layers are on the nosuid /var.
func (n *podNode) checkSetuid(t *testing.T) {
	t.Helper()
	list, ok := n.webGet(t, "/ls?path="+hostProc)
	if !ok {
		return
	}
	want := fmt.Sprintf("serve\x00--port\x00%d\x00", closedGuestPort)
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(file string) string { // processes come and go: no retries
		body, _ := httpGet(t.Context(), client, fmt.Sprintf("http://127.0.0.1:%d/file?path=%s/%s", n.webPort, hostProc, file))
		return body
	}
	for _, pid := range strings.Fields(list) {
		if _, err := strconv.Atoi(pid); err != nil || !strings.Contains(get(pid+"/cmdline"), want) {
			continue
		}
		for _, line := range strings.Split(get(pid+"/status"), "\n") {
			if ids, ok := strings.CutPrefix(line, "Uid:"); ok {
				// real, effective, saved, filesystem
				if f := strings.Fields(ids); len(f) != 4 || f[0] != fmt.Sprint(hostnetUID) || f[1] != "0" {
					t.Errorf("hostnet's setuid server runs with uids %q, want real %d, effective 0", ids, hostnetUID)
				}
				t.Logf("hostnet's setuid server, pid %s, runs with uids %s", pid, strings.TrimSpace(ids))
				return
			}
		}
	}
	t.Errorf("hostnet's server (cmdline %q) not found among the gateway's processes", want)
}
