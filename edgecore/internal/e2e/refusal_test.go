package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/testcloud"
)

// TestBadInputFromCloud: malformed, unroutable and oversized frames are
// logged and counted; the session stays and later messages are applied.
func TestBadInputFromCloud(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{})
	n := newNode(t, cloud, token(t, cloud, time.Hour))
	p := n.start(t)
	waitCloud(t, cloud, "connected", 20*time.Second, func(v *testcloud.View) bool { return v.Connected(n.name) })
	frames := []struct{ frame, log string }{
		{`{"header":{"msg_id":"m1"`, "1 malformed frames dropped so far"},
		{`{"header":{"msg_id":"m2","timestamp":"noon"},"route":{"operation":"insert"}}`, "2 malformed frames dropped so far"},
		{`{"header":{"msg_id":"m3"},"route":{"group":"nosuch","operation":"insert","resource":"a/pod/b"}}`, "1 unroutable messages dropped so far"},
		{`{"header":{"msg_id":"m4"},"route":{"group":"resource","operation":"frobnicate","resource":"a/pod/b"}}`, "2 unroutable messages dropped so far"},
		{`{"header":{"msg_id":"m5","resourceversion":"3"},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"a/pod/b"},"content":"` + strings.Repeat("A", 9<<20) + `"}`, "1 oversized frames dropped so far"},
		{`{"header":{"msg_id":"m6","resourceversion":"4"},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"not-a-resource"},"content":{}}`, "not acknowledged"},
	}
	for _, f := range frames {
		if err := cloud.SendRaw(n.name, []byte(f.frame)); err != nil {
			t.Fatal(err)
		}
		p.waitLog(t, f.log, 10*time.Second)
	}
	pod := testcloud.PodMessage("insert", "default", "after", "uid-after", "9", map[string]any{"nodeName": n.name})
	cloud.Send(n.name, pod)
	waitCloud(t, cloud, "pod after bad input acked", 10*time.Second, func(v *testcloud.View) bool { return v.Acks(pod.Header.ID) >= 1 })
	cloud.Inspect(func(v *testcloud.View) {
		if v.Connects(n.name) != 1 {
			t.Errorf("edgecore reconnected %d times; bad input must not cut the link", v.Connects(n.name)-1)
		}
	})
}

// TestRefusals: a token for another cloud, an expired token, and stored
// certificates that are expired or from another CA are refused with a
// message naming the problem, and edgecore never connects (it keeps running
// and retrying, offline).
func TestRefusals(t *testing.T) {
	cloud := testcloud.ForTest(t, testcloud.Options{})
	other := testcloud.ForTest(t, testcloud.Options{})
	now := time.Now()
	tests := []struct {
		name  string
		token string
		cert  func(n *node) // plants certificates before start
		want  string
	}{
		{name: "token for another cloud", token: token(t, other, time.Hour), want: "CA hash mismatch"},
		{name: "expired token", token: token(t, cloud, -time.Minute), want: "token is expired"},
		{name: "expired certificate", want: "expired at", cert: func(n *node) {
			plant(t, n, cloud, cloud, now.Add(-48*time.Hour), now.Add(-time.Hour))
		}},
		{name: "certificate from another CA", want: "does not chain to the stored CA", cert: func(n *node) {
			plant(t, n, cloud, other, now.Add(-time.Hour), now.Add(time.Hour))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, cloud, tt.token)
			if tt.cert != nil {
				tt.cert(n)
			}
			p := n.start(t)
			p.waitLog(t, tt.want, 20*time.Second)
			time.Sleep(300 * time.Millisecond)
			if !p.running() {
				t.Fatal("edgecore exited; it should stay up offline")
			}
			cloud.Inspect(func(v *testcloud.View) {
				if v.Connects(n.name) != 0 {
					t.Fatalf("edgecore connected despite %s", tt.name)
				}
			})
		})
	}
}

// plant writes ca's CA and a client certificate signed by issuer.
func plant(t *testing.T, n *node, ca, issuer *testcloud.Cloud, from, to time.Time) {
	t.Helper()
	certPEM, keyPEM, err := issuer.IssueClientCert(n.name, from, to)
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{"ca/rootCA.crt": ca.CAPEM(), "certs/server.crt": certPEM, "certs/server.key": keyPEM} {
		full := filepath.Join(n.dir, path)
		os.MkdirAll(filepath.Dir(full), 0o700)
		if err := os.WriteFile(full, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
