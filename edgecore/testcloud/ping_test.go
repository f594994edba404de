package testcloud

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// The cloud answers a websocket ping with a pong carrying the same bytes,
// as cloudhub's websocket library does, and never pings by itself.
func TestAnswersPings(t *testing.T) {
	c := ForTest(t, Options{})
	ws, err := dial(t, c, "n1", headers("n1", "msg"))
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	pongs := make(chan string, 4)
	ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	cloudPinged := make(chan struct{}, 1)
	ws.SetPingHandler(func(string) error { cloudPinged <- struct{}{}; return nil })
	go func() { // control frames are handled while reading
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	for _, payload := range []string{"1", "2"} {
		if err := ws.WriteControl(websocket.PingMessage, []byte(payload), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-pongs:
			if got != payload {
				t.Fatalf("pong %q answers ping %q", got, payload)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no pong to ping %q", payload)
		}
	}
	waitFor(t, c, "two pings counted", func(v *View) bool { return v.Pings("n1") == 2 })
	select {
	case <-cloudPinged:
		t.Fatal("the cloud sent a ping; cloudhub never does")
	default:
	}
}
