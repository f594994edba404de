package update

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// TestPush: a whole push through real TLS writes slot b, puts it on
// trial, replies, then asks for the reboot; status, status.json and
// last.json say so.
func TestPush(t *testing.T) {
	g := newGateway(t)
	img := slotImage(3<<20+17, 1)
	b := makeBundle(t, img, bundle.Params{Version: "v2"}, signKey)
	var sent int64
	res, err := g.client(t).Push(context.Background(), bytes.NewReader(b), int64(len(b)), func(s, total int64) {
		if total != int64(len(b)) || s < sent {
			t.Errorf("progress %d of %d after %d", s, total, sent)
		}
		sent = s
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Result{Slot: "b", Version: "v2", Build: testBuild + 1, Board: testBoard, Bytes: int64(len(b)), ImageSize: int64(len(img)), Reboot: true}
	if res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	if sent != int64(len(b)) {
		t.Errorf("progress ended at %d of %d", sent, len(b))
	}
	if got := g.content(t, slotstate.B); !bytes.Equal(got[:len(img)], img) {
		t.Error("slot b does not hold the image")
	}
	g.checkRunningUntouched(t)
	if st := g.state(t); st.TrialSlot != slotstate.B || st.Last != slotstate.Armed {
		t.Errorf("slot state %v, want b armed for a trial", st)
	}
	eventually(t, "reboot", func() error {
		if n := g.reboots.count(); n != 1 {
			return fmt.Errorf("%d reboots asked for", n)
		}
		return nil
	})

	st, err := g.client(t).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Running != "a" || st.Active != "a" || st.Trial != "b" || st.TriesLeft != 1 || st.Last != "armed" ||
		st.LastSlot != "b" || st.Seq != 3 || st.Fingerprint != g.srv.Fingerprint() || st.Update != nil ||
		st.Board != testBoard || st.Build != testBuild || st.Version != "v1" {
		t.Errorf("status %+v", st)
	}
	if st.LastUpdate == nil || st.LastUpdate.Error != "" || st.LastUpdate.Slot != "b" || st.LastUpdate.Build != testBuild+1 || st.LastUpdate.Seq != st.Seq {
		t.Errorf("last update %+v", st.LastUpdate)
	}
	file, err := ReadStatusFile(filepath.Join(g.dir, "state", StatusFile))
	if err != nil {
		t.Fatal(err)
	}
	if file.Trial != "b" || file.Last != "armed" || file.Update != nil || file.LastUpdate == nil {
		t.Errorf("status.json %+v", file)
	}
	last, err := readLast(filepath.Join(g.dir, "state"))
	if err != nil || last == nil || last.Version != "v2" || last.Error != "" {
		t.Errorf("last.json %+v, %v", last, err)
	}
}

// TestPushNoReboot: ?reboot=false leaves the trial for the next boot.
func TestPushNoReboot(t *testing.T) {
	g := newGateway(t)
	b := makeBundle(t, slotImage(1<<20, 2), bundle.Params{}, signKey)
	c, err := NewClient(g.addr, ClientOptions{Key: clientKey, Fingerprint: g.srv.Fingerprint(), NoReboot: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Push(context.Background(), bytes.NewReader(b), -1, nil)
	if err != nil || res.Reboot {
		t.Fatalf("push: %+v, %v", res, err)
	}
	if st := g.state(t); st.TrialSlot != slotstate.B {
		t.Errorf("slot state %v", st)
	}
	g.stop() // any reboot scheduled would have run by now
	if n := g.reboots.count(); n != 0 {
		t.Errorf("%d reboots asked for", n)
	}
}
