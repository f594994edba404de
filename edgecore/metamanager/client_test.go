package metamanager

import (
	"errors"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

func TestClientLocalFirstThenCloud(t *testing.T) {
	h := newHarness(t)
	c := NewClient(h.mm.Store(), h.bus, model.EdgedModuleName, 2*time.Second)
	if err := h.mm.Store().Save(Meta{Key: "default/configmap/here", Type: "configmap", Value: `{"data":{"k":"local"}}`}); err != nil {
		t.Fatal(err)
	}
	h.setOnline(true)

	// Stored: answered without asking anyone, even online.
	if v, err := c.Get("default", "configmap", "here"); err != nil || v != `{"data":{"k":"local"}}` {
		t.Fatalf("local get = %q, %v", v, err)
	}
	h.none(model.EdgeHubModuleName)

	// Missing and online: the cloud answers and the answer is kept.
	type result struct {
		v   string
		err error
	}
	res := make(chan result, 1)
	go func() { v, err := c.Get("default", "secret", "remote"); res <- result{v, err} }()
	up := h.recv(model.EdgeHubModuleName)
	if up.Operation() != model.QueryOperation || up.Resource() != "default/secret/remote" {
		t.Fatalf("sent up %+v", up)
	}
	h.bus.SendResp(*model.NewRespByMessage(&up, map[string]any{"data": map[string]any{"p": "c2VjcmV0"}}))
	h.recv(model.EdgeHubModuleName) // ack of the cloud's reply
	r := <-res
	if r.err != nil || r.v != `{"data":{"p":"c2VjcmV0"}}` {
		t.Fatalf("remote get = %q, %v", r.v, r.err)
	}
	if v, ok := h.row("default/secret/remote"); !ok || v != r.v {
		t.Fatalf("cloud answer not stored: %q", v)
	}

	// Missing and offline: not found, promptly.
	h.setOnline(false)
	if _, err := c.Get("default", "configmap", "nowhere"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("offline miss: %v, want ErrNotFound", err)
	}
}
