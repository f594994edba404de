package update

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// TestPull: the gateway fetches a bundle over http, and over https with
// the source's certificate pinned; a source that does not deliver, a bad
// pin and a bad request are refused and change nothing.
func TestPull(t *testing.T) {
	img := slotImage(1<<20+5, 6)
	b := makeBundle(t, img, bundle.Params{Version: "v3"}, signKey)
	serve := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gw.bundle" {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
	plain := httptest.NewServer(serve)
	defer plain.Close()
	secure := httptest.NewTLSServer(serve)
	defer secure.Close()
	secureFP := Fingerprint(secure.Certificate().Raw)

	t.Run("http", func(t *testing.T) {
		g := newGateway(t)
		res, err := g.client(t).Pull(context.Background(), plain.URL+"/gw.bundle")
		if err != nil || res.Slot != "b" || res.Version != "v3" || res.Bytes != int64(len(b)) || !res.Reboot {
			t.Fatalf("pull: %+v, %v", res, err)
		}
		if got := g.content(t, slotstate.B); !bytes.Equal(got[:len(img)], img) {
			t.Error("slot b does not hold the image")
		}
		g.checkRunningUntouched(t)
	})
	t.Run("https pinned", func(t *testing.T) {
		g := newGateway(t)
		res, err := g.client(t).PullPinned(context.Background(), secure.URL+"/gw.bundle", secureFP)
		if err != nil || res.Version != "v3" {
			t.Fatalf("pull: %+v, %v", res, err)
		}
		if st := g.state(t); st.TrialSlot != slotstate.B {
			t.Errorf("slot state %v", st)
		}
	})
	refused := []struct {
		name, url, fp string
		status        int
		reason, want  string
	}{
		{"https against the system roots", secure.URL + "/gw.bundle", "", 502, ReasonDownload, "certificate"},
		{"https, wrong pin", secure.URL + "/gw.bundle", strings.Repeat("1", 64), 502, ReasonDownload, "pinned"},
		{"not found", plain.URL + "/none.bundle", "", 502, ReasonDownload, "404"},
		{"nobody listening", "http://127.0.0.1:1/gw.bundle", "", 502, ReasonDownload, "refused"},
		{"not a url", "ftp://x/y", "", 400, ReasonRequest, "not an http or https URL"},
		{"pin on http", plain.URL + "/gw.bundle", strings.Repeat("1", 64), 400, ReasonRequest, "pins an https source"},
		{"bad pin", secure.URL + "/gw.bundle", "XYZ", 400, ReasonRequest, "fingerprint"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t)
			before := g.content(t, slotstate.B)
			_, err := g.client(t).PullPinned(context.Background(), c.url, c.fp)
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.Reason != c.reason || !strings.Contains(e.Message, c.want) {
				t.Fatalf("pull: %v, want %d %s naming %q", err, c.status, c.reason, c.want)
			}
			g.checkRunningUntouched(t)
			if st := g.state(t); st != slotstate.Initial() || !bytes.Equal(g.content(t, slotstate.B), before) {
				t.Errorf("slot state %v, or slot b written", st)
			}
		})
	}
}
