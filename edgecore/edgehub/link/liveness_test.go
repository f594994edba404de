package link

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgegate/edgegate/edgecore/model"
)

// peer runs a websocket server in the test whose handler gets each
// connection, and dials it with cfg.
func peer(t *testing.T, cfg Config, handle func(ws *websocket.Conn)) *Conn {
	t.Helper()
	up := websocket.Upgrader{WriteBufferSize: 1024} // a long frame leaves in many fragments
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		handle(ws)
	}))
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	cfg.Server = strings.TrimPrefix(srv.URL, "https://")
	cfg.TLS = &tls.Config{RootCAs: pool}
	cfg.ProjectID, cfg.NodeName = "p", "n"
	c, err := Dial(context.Background(), cfg, &Stats{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func status(i int) *model.Message {
	return model.NewMessage("").BuildRouter("edged", "meta", "default/podpatch/p", "patch").FillBody(i)
}

// The pong to a ping comes only after the peer read every frame written
// before the ping: that is what makes it a proof of delivery.
func TestPongFollowsFramesWrittenBefore(t *testing.T) {
	var read atomic.Int32
	var readAtPing atomic.Int32
	c := peer(t, Config{ReadTimeout: 5 * time.Second}, func(ws *websocket.Conn) {
		def := ws.PingHandler()
		ws.SetPingHandler(func(data string) error {
			readAtPing.Store(read.Load())
			return def(data)
		})
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			read.Add(1)
			time.Sleep(20 * time.Millisecond) // a peer slower than the writer
		}
	})
	go c.Read() // pongs are handled while reading
	for i := range 5 {
		if _, err := c.Write(context.Background(), status(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Ping(1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Answers():
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
	if c.Answered() != 1 || readAtPing.Load() != 5 {
		t.Fatalf("Answered %d; the peer had read %d of 5 frames when it answered", c.Answered(), readAtPing.Load())
	}
}

// A peer that neither sends nor reads (a half-open connection) ends Read
// with ErrSilent once ReadTimeout passes.
func TestSilentPeerEndsRead(t *testing.T) {
	const timeout = 300 * time.Millisecond
	release := make(chan struct{})
	defer close(release)
	c := peer(t, Config{ReadTimeout: timeout}, func(*websocket.Conn) { <-release })
	start := time.Now()
	if err := c.Ping(1); err != nil {
		t.Fatal(err)
	}
	_, err := c.Read()
	if !errors.Is(err, ErrSilent) {
		t.Fatalf("Read = %v, want ErrSilent", err)
	}
	if took := time.Since(start); took < timeout || took > timeout+2*time.Second {
		t.Fatalf("silence noticed after %s, want about %s", took, timeout)
	}
	if c.Answered() != 0 {
		t.Fatalf("Answered = %d with no pong", c.Answered())
	}
}

// A frame that arrives slowly, but without ever stopping for ReadTimeout,
// is not taken for a dead link.
func TestSlowFrameIsNotSilence(t *testing.T) {
	const timeout = 300 * time.Millisecond
	c := peer(t, Config{ReadTimeout: timeout}, func(ws *websocket.Conn) {
		w, err := ws.NextWriter(websocket.TextMessage)
		if err != nil {
			return
		}
		frame := `{"header":{"msg_id":"slow"},"route":{"group":"resource","operation":"insert","resource":"a/pod/b"},"content":"` +
			strings.Repeat("x", 8192) + `"}`
		for len(frame) > 0 { // 8 pieces, 4×timeout in all
			n := min(len(frame), 1100)
			w.Write([]byte(frame[:n]))
			frame = frame[n:]
			time.Sleep(timeout / 2)
		}
		w.Close()
		ws.ReadMessage() // hold the connection until the test ends
	})
	msg, err := c.Read()
	if err != nil || msg.Header.ID != "slow" {
		t.Fatalf("Read = %v, %v", msg, err)
	}
}

// Pongs that answer no ping of ours prove nothing.
func TestUnsolicitedPongsProveNothing(t *testing.T) {
	c := peer(t, Config{ReadTimeout: 5 * time.Second}, func(ws *websocket.Conn) {
		for _, p := range []string{"7", "x", ""} {
			ws.WriteControl(websocket.PongMessage, []byte(p), time.Now().Add(time.Second))
		}
		ws.WriteMessage(websocket.TextMessage, []byte(`{"header":{"msg_id":"after"},"route":{"operation":"insert"}}`))
		ws.ReadMessage()
	})
	if msg, err := c.Read(); err != nil || msg.Header.ID != "after" {
		t.Fatalf("Read = %v, %v", msg, err)
	}
	if c.Answered() != 0 || c.stats.PongsIn.Load() != 3 {
		t.Fatalf("Answered %d after unsolicited pongs (%d counted)", c.Answered(), c.stats.PongsIn.Load())
	}
}
