package update

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/slotwrite"
)

// TestRefusalMapping: every sentinel of image/bundle and init/slotwrite,
// wrapped as they come, maps to its status and reason.
func TestRefusalMapping(t *testing.T) {
	cases := []struct {
		err    error
		status int
		reason string
	}{
		{bundle.ErrBadSignature, 400, "signature"},
		{bundle.ErrUnknownKey, 400, "unknown-key"},
		{bundle.ErrOtherBoard, 400, "board"},
		{bundle.ErrOlderBuild, 400, "older-build"},
		{bundle.ErrBelowMinimum, 400, "min-build"},
		{bundle.ErrNotBundle, 400, "format"},
		{bundle.ErrMalformed, 400, "format"},
		{bundle.ErrUnsupported, 400, "format"},
		{bundle.ErrTruncated, 400, "truncated"},
		{io.ErrUnexpectedEOF, 400, "truncated"},
		{bundle.ErrCorrupt, 400, "corrupt"},
		{bundle.ErrOversized, 413, "oversized"},
		{slotwrite.ErrTooLarge, 413, "oversized"},
		{&http.MaxBytesError{Limit: 5}, 413, "oversized"},
		{slotwrite.ErrReadBack, 422, "read-back"},
		{slotwrite.ErrRunningSlot, 500, "running-slot"},
		{&Error{Status: 409, Reason: ReasonBusy, Message: "x"}, 409, "busy"},
		{errors.New("disk on fire"), 500, "internal"},
	}
	for _, c := range cases {
		// As the writer wraps a bundle error it reads through.
		err := fmt.Errorf("slot b: image: %w", fmt.Errorf("reading: %w", c.err))
		got := refusal(err)
		if got.Status != c.status || got.Reason != c.reason || got.Message == "" {
			t.Errorf("%v: %d %q %q, want %d %q", c.err, got.Status, got.Reason, got.Message, c.status, c.reason)
		}
	}
}

// TestPushRefused: each bad bundle is refused with its status and reason;
// the running slot and its committed state are untouched, the target is
// untouched when the refusal comes before its first byte and left invalid
// when it comes after, and last.json records the refusal.
func TestPushRefused(t *testing.T) {
	img := slotImage(1<<20, 9)
	good := makeBundle(t, img, bundle.Params{}, signKey)
	flip := func(b []byte, at int) []byte {
		b = bytes.Clone(b)
		b[at] ^= 0x40
		return b
	}
	cases := []struct {
		name        string
		body        []byte
		status      int
		reason      string
		invalidated bool // the refusal came after the target was invalidated
	}{
		{"bad signature", flip(good, bundle.HeaderSize+10), 400, "signature", false},
		{"unknown key", makeBundle(t, img, bundle.Params{}, otherKey), 400, "unknown-key", false},
		{"other board", makeBundle(t, img, bundle.Params{Board: "qemu-armv7"}, signKey), 400, "board", false},
		{"older build", makeBundle(t, img, bundle.Params{Build: testBuild - 1}, signKey), 400, "older-build", false},
		{"needs a newer build running", makeBundle(t, img, bundle.Params{MinBuild: testBuild + 1}, signKey), 400, "min-build", false},
		{"not a bundle", bytes.Repeat([]byte("not a bundle "), 100), 400, "format", false},
		{"truncated in the header", good[:50], 400, "truncated", false},
		{"empty", nil, 400, "truncated", false},
		{"truncated in the payload", good[:len(good)-100], 400, "truncated", true},
		{"image larger than the slot", makeBundle(t, slotImage(slotSize+1, 3), bundle.Params{}, signKey), 413, "oversized", false},
		{"stream goes on after the payload", append(bytes.Clone(good), "more"...), 413, "oversized", true},
		{"corrupt payload", flip(good, len(good)-1000), 400, "corrupt", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGateway(t)
			targetBefore := g.content(t, slotstate.B)
			_, err := g.client(t).Push(context.Background(), bytes.NewReader(c.body), int64(len(c.body)), nil)
			var e *Error
			if !errors.As(err, &e) || e.Status != c.status || e.Reason != c.reason {
				t.Fatalf("push: %v, want %d %s", err, c.status, c.reason)
			}
			g.checkRunningUntouched(t)
			st := g.state(t)
			if st.TrialSlot != slotstate.NoSlot {
				t.Errorf("slot state %v: a slot is on trial", st)
			}
			if c.invalidated {
				if st.Last != slotstate.Invalidated || st.LastSlot != slotstate.B {
					t.Errorf("slot state %v, want slot b invalidated", st)
				}
			} else {
				if st != slotstate.Initial() {
					t.Errorf("slot state %v, want it as built", st)
				}
				if !bytes.Equal(g.content(t, slotstate.B), targetBefore) {
					t.Error("slot b was written before the refusal")
				}
			}
			last, err := readLast(filepath.Join(g.dir, "state"))
			if err != nil || last == nil || last.Reason != c.reason || last.Error == "" || last.Slot != "b" {
				t.Errorf("last.json %+v, %v", last, err)
			}
			if n := g.reboots.count(); n != 0 {
				t.Errorf("%d reboots after a refusal", n)
			}
			// The service takes the next update.
			if _, err := g.client(t).Push(context.Background(), bytes.NewReader(good), int64(len(good)), nil); err != nil {
				t.Fatalf("a good push after the refusal: %v", err)
			}
		})
	}
}
