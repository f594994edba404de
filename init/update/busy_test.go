package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// TestBusy: while one update runs, another is refused with 409 busy and
// changes nothing; the first one completes.
func TestBusy(t *testing.T) {
	g := newGateway(t)
	b := makeBundle(t, slotImage(2<<20, 4), bundle.Params{}, signKey)
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() {
		_, err := g.client(t).Push(context.Background(), pr, int64(len(b)), nil)
		first <- err
	}()
	half := len(b) / 2
	if _, err := pw.Write(b[:half]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first update writing", func() error {
		st, err := g.client(t).Status(context.Background())
		if err != nil {
			return err
		}
		if st.Update == nil || st.Update.Phase != PhaseWriting || st.Update.Total != 2<<20 {
			return fmt.Errorf("update in progress: %+v", st.Update)
		}
		return nil
	})
	_, err := g.client(t).Push(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != 409 || e.Reason != ReasonBusy {
		t.Errorf("second push: %v, want 409 busy", err)
	}
	_, err = g.client(t).Pull(context.Background(), "http://127.0.0.1:1/x.bundle")
	if !errors.As(err, &e) || e.Status != 409 || e.Reason != ReasonBusy {
		t.Errorf("pull during a push: %v, want 409 busy", err)
	}
	if _, err := pw.Write(b[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-first; err != nil {
		t.Fatalf("first push: %v", err)
	}
	if st := g.state(t); st.TrialSlot != slotstate.B {
		t.Errorf("slot state %v", st)
	}
	if last, _ := readLast(g.config.StateDir); last == nil || last.Error != "" {
		t.Errorf("last.json %+v: the refused push overwrote the running one's outcome", last)
	}
}

// TestOnTrial: while the running slot is on trial, an update would
// overwrite the fallback: 409 on-trial, nothing written.
func TestOnTrial(t *testing.T) {
	g := newGateway(t)
	onTrial := slotstate.State{Seq: 4, Active: slotstate.A, TrialSlot: slotstate.B, Last: slotstate.Tried, LastSlot: slotstate.B}
	g.reboot(t, onTrial, slotstate.B)
	fallback := g.content(t, slotstate.A)
	b := makeBundle(t, slotImage(1<<20, 5), bundle.Params{}, signKey)
	_, err := g.client(t).Push(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != 409 || e.Reason != ReasonOnTrial || !bytes.Contains([]byte(e.Message), []byte("slot b is on trial")) {
		t.Fatalf("push on trial: %v, want 409 on-trial", err)
	}
	_, err = g.client(t).Pull(context.Background(), "http://127.0.0.1:1/x.bundle")
	if !errors.As(err, &e) || e.Reason != ReasonOnTrial {
		t.Errorf("pull on trial: %v", err)
	}
	if st := g.state(t); st != onTrial {
		t.Errorf("slot state %v, want %v", st, onTrial)
	}
	if !bytes.Equal(g.content(t, slotstate.A), fallback) {
		t.Error("the fallback slot a was written")
	}
	st, err := g.client(t).Status(context.Background())
	if err != nil || st.Running != "b" || st.Trial != "b" || st.Active != "a" || st.Last != "tried" {
		t.Errorf("status %+v, %v", st, err)
	}
}
