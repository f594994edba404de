package testcloud

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgegate/edgegate/edgecore/model"
)

// dial connects as node with a certificate from c, sending the given headers.
func dial(t *testing.T, c *Cloud, node string, hdr http.Header) (*websocket.Conn, error) {
	t.Helper()
	certPEM, keyPEM, err := c.IssueClientCert(node, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CAPEM())
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}
	ws, _, err := d.Dial("wss://"+c.WSServer()+"/p/"+node+"/events", hdr)
	return ws, err
}

func headers(node string, use string) http.Header {
	h := http.Header{}
	h["node_id"] = []string{node}
	h["project_id"] = []string{"p"}
	if use != "" {
		h["ConnectionUse"] = []string{use}
	}
	return h
}

func waitFor(t *testing.T, c *Cloud, what string, cond func(v *View) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Wait(ctx, what, cond); err != nil {
		t.Fatal(err)
	}
}

func TestSessionNeedsConnectionUseMsg(t *testing.T) {
	c := ForTest(t, Options{})
	ws, err := dial(t, c, "n1", headers("n1", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	time.Sleep(100 * time.Millisecond)
	c.Inspect(func(v *View) {
		if v.Connected("n1") {
			t.Fatal("a connection without ConnectionUse: msg became a session")
		}
	})
}

func TestClientCertificateRequired(t *testing.T) {
	c := ForTest(t, Options{})
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	if ws, _, err := d.Dial("wss://"+c.WSServer()+"/p/n/events", headers("n", "msg")); err == nil {
		ws.Close()
		t.Fatal("connected without a client certificate")
	}
}

func TestKeepaliveTimeoutAndResendUntilAck(t *testing.T) {
	c := ForTest(t, Options{KeepaliveTimeout: 400 * time.Millisecond, ResendInterval: 100 * time.Millisecond})
	ws, err := dial(t, c, "n1", headers("n1", "msg"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	waitFor(t, c, "session", func(v *View) bool { return v.Connected("n1") })
	pod := PodMessage(model.InsertOperation, "default", "p", "u", "5", nil)
	if err := c.Send("n1", pod); err != nil {
		t.Fatal(err)
	}
	// Unacked: delivered again and again.
	seen := 0
	for seen < 3 {
		var m model.Message
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m.Header.ID == pod.Header.ID {
			seen++
		}
		keep := model.NewMessage("").BuildRouter("websocket", "resource", "node", "keepalive").FillBody("ping")
		ws.WriteJSON(keep)
	}
	ack := model.NewRespByMessage(pod, model.AckContent)
	if err := ws.WriteJSON(ack); err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, "ack", func(v *View) bool { return v.Acks(pod.Header.ID) == 1 && v.Pending("n1") == 0 })
	c.Inspect(func(v *View) {
		if v.Synced("default/pod/p") != "5" {
			t.Errorf("ObjectSync = %q, want 5", v.Synced("default/pod/p"))
		}
	})
	// No more keepalives: the session ends after the timeout.
	start := time.Now()
	waitFor(t, c, "keepalive timeout", func(v *View) bool { return !v.Connected("n1") })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("session dropped after %s, before the keepalive timeout", d)
	}
}
