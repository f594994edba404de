package qemu

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/edgecore/kubeapi"
	"github.com/edgegate/edgegate/edgecore/testcloud"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/init/jointoken"
)

// TestJoinWithTheClockADayBehind boots a gateway whose clock (QEMU's RTC)
// is a day behind the cloud's, with the default NTP servers out of reach
// (the pool, which QEMU's user network cannot resolve here). The test
// cloud issues certificates valid from its now, as cloudcore does, so by
// the gateway's clock every one is a day in the future. The gateway still
// joins: edgecore reads the cloud's time, sets the clock forward, and the
// node is Ready in the API server. The join token reached /var through
// the boot partition and is gone from both once used; the time init saves
// at power off is the corrected one.
func TestJoinWithTheClockADayBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU and a Kubernetes API server")
	}
	const node = "gw-clock"
	k := kubeapi.Shared(t)
	cloud := testcloud.ForTest(t, testcloud.Options{Kube: k.Client()})
	token, err := cloud.Token(time.Hour)
	must(t, err)
	b := boards.QEMUArm64()
	img := filepath.Join(t.TempDir(), "gw.img")
	_, err = image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: img, Cache: testCache(t), Containerd: true, Edgecore: true,
		EdgecoreConfig: joinEdgecoreConfig(t, node, cloud, token, ""),
	})
	must(t, err)

	behind := time.Now().Add(-24 * time.Hour).UTC()
	m, err := Start(context.Background(), Config{
		Board: b, Image: img, Path: Direct,
		Extra: []string{"-rtc", "base=" + behind.Format("2006-01-02T15:04:05")},
	})
	must(t, err)
	t.Cleanup(m.Close)

	expectWithin(t, m, `edgegate: join token moved from the boot partition to /var/lib/kubeedge/bootstrap-edgecore\.conf \(0600\)`, 2*time.Minute)
	guest := expectWithin(t, m, `edgegate: clock: ntp: [^\n]*; time (\S+); retrying from 5s`, 2*time.Minute)[1]
	if at, err := time.Parse(time.RFC3339, guest); err != nil || time.Since(at) < 23*time.Hour {
		t.Fatalf("guest time at boot %s (%v), want a day behind", guest, err)
	}
	expectWithin(t, m, `clock: the clock \(\S+\) is 2[34]h\d+m\d+s behind the cloud's \([^)]*\): NTP has not set it; set it to the cloud's time`, ctrdTimeout)
	expectWithin(t, m, `join token used; /var/lib/kubeedge/bootstrap-edgecore\.conf erased`, ctrdTimeout)
	expectWithin(t, m, `edgehub: connected to 10\.0\.2\.2:\d+ as `+node, ctrdTimeout)
	waitNodeNamed(t, k, node, ready)
	powerdown(t, m)

	if _, err := disk.ReadFile(img, 1, jointoken.BootFile); err == nil {
		t.Error("the join token is still on the boot partition")
	}
	part := partition(t, img, 4)
	if out, _ := exec.Command("debugfs", "-R", "stat /lib/kubeedge/bootstrap-edgecore.conf", part).CombinedOutput(); !strings.Contains(string(out), "File not found") {
		t.Errorf("the used join token is still on /var:\n%s", out)
	}
	saved, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(debugfsCat(t, part, "/lib/edgegate/clock")))
	if err != nil || time.Since(saved) > time.Hour || time.Since(saved) < -time.Hour {
		t.Errorf("time saved at power off %v (%v), want the corrected time, about now", saved, err)
	}
	cloud.Inspect(func(v *testcloud.View) {
		if v.CertsIssued() != 1 {
			t.Errorf("%d certificates issued, want 1", v.CertsIssued())
		}
	})
	if c := m.Console.String(); regexp.MustCompile(`not valid until|joining again with the join token`).MatchString(c) {
		t.Errorf("the certificate was refused on the way:\n%s", tail(c, 6000))
	}
}

// waitNodeNamed waits until the API server holds node and cond holds for it.
func waitNodeNamed(t *testing.T, k *kubeapi.Server, node string, cond func(*v1.Node) bool) *v1.Node {
	t.Helper()
	deadline := time.Now().Add(ctrdTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, err := k.Client().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		cancel()
		if err == nil && cond(n) {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not Ready in the API server within %s (%v)", node, ctrdTimeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
