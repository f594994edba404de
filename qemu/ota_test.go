package qemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/update"
)

// TestOTAUpdate updates a gateway over the air: build N runs in slot a;
// N+1 is pushed, written to slot b, booted on trial and committed; on
// the first board N+2 then goes to slot a the same way (the others show
// the one good path: their updates are the same code, and each costs a
// minute of emulation).
func TestOTAUpdate(t *testing.T) {
	t.Parallel() // one QEMU guest per core
	bs := emulated(t)
	logWallTime(t)
	for _, b := range bs {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			logWallTime(t)
			d := otaDisk(t, b, otaBuildN)
			g := startOTAGateway(t, b, d)
			checkRunning(t, g.settle(t), b, "a", otaBuildN)
			g.update(t, b, otaBundle(t, b, otaBuildN1), "b", otaBuildN1)
			last := slotstate.B
			if b.Name == bs[0].Name {
				g.update(t, b, otaBundle(t, b, otaBuildN2), "a", otaBuildN2)
				last = slotstate.A
			}
			powerdown(t, g.m)
			st := loadState(t, d)
			if st.Active != last || st.TrialSlot != slotstate.NoSlot || st.Last != slotstate.Committed {
				t.Fatalf("slot state after the last update: %v, want slot %s committed", st, last)
			}
		})
	}
}

// update pushes a healthy bundle of build and follows it through the
// reboot until slot is committed and runs it.
func (g *otaGateway) update(t *testing.T, b boards.Board, data []byte, slot string, build uint64) {
	t.Helper()
	began := time.Now()
	res, err := g.push(t, data)
	if err != nil {
		t.Fatalf("pushing build %d: %v", build, err)
	}
	// A bundle carries slot A up to its last MiB with data, less than the
	// partition.
	m, _ := splitBundle(t, data)
	if slotBytes := int64(b.Layout.SlotMiB) << 20; m.ImageSize >= slotBytes {
		t.Errorf("bundle's slot image of %d bytes, want less than the %d-byte slot", m.ImageSize, slotBytes)
	}
	want := update.Result{Slot: slot, Version: otaVersion(build), Build: build, Board: b.Name, Bytes: int64(len(data)), ImageSize: m.ImageSize, Reboot: true}
	if res != want {
		t.Fatalf("push result %+v, want %+v", res, want)
	}
	pushed := time.Since(began)
	ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
	defer cancel()
	st, err := g.client.WaitOutcome(ctx, res)
	if err != nil {
		t.Fatalf("after pushing build %d: %v; console:\n%s", build, err, tail(g.m.Console.String(), 6000))
	}
	expect(t, g.m, `edgegate: trial boot of slot `+slot)
	expect(t, g.m, `edgegate: init version=`+otaVersion(build)+` board=`+b.Name+` slot=`+slot)
	expect(t, g.m, `edgegate: slot `+slot+` committed after its trial`)
	checkRunning(t, st, b, slot, build)
	if st.Last != "committed" || st.LastSlot != slot {
		t.Errorf("last event %s of slot %q, want committed of %s", st.Last, st.LastSlot, slot)
	}
	if o := st.LastUpdate; o == nil || o.Build != build || o.Slot != slot || o.Error != "" {
		t.Errorf("last update %+v, want build %d to slot %s without error", o, build, slot)
	}
	t.Logf("build %d: %d bytes pushed in %v, committed in slot %s after %v",
		build, len(data), pushed.Round(time.Millisecond), slot, time.Since(began).Round(time.Millisecond))
}

// refusal is a bundle the service must refuse, and how.
type refusal struct {
	name   string
	data   []byte
	status int
	reason string
	// written: the refusal comes while the slot image streams in, after
	// the target slot was invalidated; the others come before the
	// service changes anything.
	written bool
}

// refusals are bundles crafted from good, a healthy bundle of N+1 for b:
// each is refused before anything is switched.
func refusals(t *testing.T, b boards.Board, good []byte) []refusal {
	sign, _ := otaKeys(t)
	stranger, err := bundle.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	badSig := append([]byte(nil), good...)
	badSig[bundleSigOffset+7] ^= 0x01
	m, _ := splitBundle(t, good)
	return []refusal{
		{"bad-signature", badSig, http.StatusBadRequest, "signature", false},
		{"unknown-key", resign(t, good, stranger, func(*bundle.Manifest) {}), http.StatusBadRequest, "unknown-key", false},
		{"other-board", resign(t, good, sign, func(m *bundle.Manifest) { m.Board = otherBoard(b) }), http.StatusBadRequest, "board", false},
		{"older-build", resign(t, good, sign, func(m *bundle.Manifest) { m.Build = otaBuildN - 1 }), http.StatusBadRequest, "older-build", false},
		{"oversized", oversizedBundle(t, b), http.StatusRequestEntityTooLarge, "oversized", false},
		// Cut in the payload: the target slot is already invalidated
		// and partly written.
		{"truncated", good[:len(good)-int(m.PayloadSize)/2], http.StatusBadRequest, "truncated", true},
		// The payload decompresses whole into the target, and only the
		// sha256 at its end shows it is not the image that was signed:
		// the hash mismatch comes after the write (last: the test then
		// finds the whole image in slot b).
		{"corrupted", resign(t, good, sign, func(m *bundle.Manifest) { m.ImageSHA256 = sha256Hex([]byte(m.ImageSHA256)) }),
			http.StatusBadRequest, "corrupt", true},
	}
}

// otherBoard names an emulated board that is not b.
func otherBoard(b boards.Board) string {
	for _, o := range boards.All() {
		if o.Name != b.Name {
			return o.Name
		}
	}
	panic("one board only")
}

// oversizedBundle is a signed bundle for b whose slot image is one MiB
// larger than a slot (zeros: it compresses to almost nothing).
func oversizedBundle(t *testing.T, b boards.Board) []byte {
	sign, _ := otaKeys(t)
	slotBytes := int64(b.Layout.SlotMiB) << 20
	var buf bytes.Buffer
	p := bundle.Params{Board: b.Name, Version: "oversized", Build: otaBuildN1}
	if _, err := bundle.Write(&buf, io.LimitReader(zeros{}, slotBytes+1<<20), p, sign, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestOTARefusals pushes one booted gateway bundle after bundle that it
// must refuse: bad signature, unknown key, another board, an older build,
// an image larger than the slot, a truncated stream, a corrupted payload.
// Each gets its status and reason, and none switches a slot: the gateway
// keeps running slot a committed, with slot a's bytes as they were.
func TestOTARefusals(t *testing.T) {
	t.Parallel() // one QEMU guest per core
	b := emulated(t)[0]
	logWallTime(t)
	good := otaBundle(t, b, otaBuildN1)
	cases := refusals(t, b, good)
	d := otaDisk(t, b, otaBuildN)
	slotA := partitionSum(t, d, 2)
	g := startOTAGateway(t, b, d)
	built := g.settle(t)
	checkRunning(t, built, b, "a", otaBuildN)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := g.push(t, c.data)
			var refused *update.Error
			if !errors.As(err, &refused) {
				t.Fatalf("push: %+v, %v; want refused with %d %s", res, err, c.status, c.reason)
			}
			if refused.Status != c.status || refused.Reason != c.reason {
				t.Errorf("refused with %d %s (%s), want %d %s", refused.Status, refused.Reason, refused.Message, c.status, c.reason)
			}
			st := g.settle(t)
			checkRunning(t, st, b, "a", otaBuildN)
			if o := st.LastUpdate; o == nil || o.Reason != c.reason || o.Error == "" {
				t.Errorf("last update %+v, want the refusal (%s)", o, c.reason)
			}
			switch {
			case !c.written && (st.Seq != built.Seq || st.Last != built.Last):
				t.Errorf("slot state changed (seq %d, last %s; was seq %d, %s): the refusal came after a write", st.Seq, st.Last, built.Seq, built.Last)
			case c.written && (st.Last != "invalidated" || st.LastSlot != "b"):
				t.Errorf("slot state last %s of slot %q, want slot b invalidated", st.Last, st.LastSlot)
			}
			t.Logf("refused: %v", err)
		})
	}
	if strings.Contains(g.m.Console.String(), "edgegate: trial boot") {
		t.Error("a refused bundle was booted on trial")
	}
	powerdown(t, g.m)
	if sum := partitionSum(t, d, 2); sum != slotA {
		t.Errorf("slot a's partition changed: sha256 %s, was %s", sum, slotA)
	}
	st := loadState(t, d)
	if st.Active != slotstate.A || st.TrialSlot != slotstate.NoSlot || st.Last != slotstate.Invalidated || st.LastSlot != slotstate.B {
		t.Errorf("slot state after the refusals: %v, want slot a committed and slot b invalidated", st)
	}
	if m, _ := splitBundle(t, good); partitionPrefixSum(t, d, 3, m.ImageSize) != m.ImageSHA256 {
		t.Error("slot b does not hold the corrupted bundle's whole image: its hash was not checked after the write")
	}
}

// TestOTARollback pushes a signed N+1 whose one service never gets
// healthy: it is booted on trial, init reboots at its trial deadline, the
// bootloader falls back to slot a, and the update service reports the
// fallback.
func TestOTARollback(t *testing.T) {
	t.Parallel() // one QEMU guest per core
	b := emulated(t)[0]
	logWallTime(t)
	sick := bundleOf(t, sickImage(t, b))
	d := otaDisk(t, b, otaBuildN)
	g := startOTAGateway(t, b, d)
	checkRunning(t, g.settle(t), b, "a", otaBuildN)
	res, err := g.push(t, sick)
	if err != nil {
		t.Fatal(err)
	}
	if res.Slot != "b" || res.Version != "sick" || !res.Reboot {
		t.Fatalf("push result %+v, want version sick to slot b and a reboot", res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), otaTimeout)
	defer cancel()
	st, err := g.client.WaitOutcome(ctx, res)
	if err == nil {
		t.Fatalf("the sick update came out as a success: %+v", st)
	}
	t.Logf("outcome: %v", err)
	expect(t, g.m, `edgegate: init version=sick board=`+b.Name+` slot=b`)
	expect(t, g.m, `edgegate: slot b failed its trial: not healthy within 10s`)
	expect(t, g.m, `edgegate: slot b failed its trial: falling back to slot a`)
	expect(t, g.m, `edgegate: init version=`+otaVersion(otaBuildN)+` board=`+b.Name+` slot=a`)
	st = g.settle(t)
	checkRunning(t, st, b, "a", otaBuildN)
	if st.Last != "fell-back" || st.LastSlot != "b" {
		t.Errorf("status says last %s of slot %q, want fell-back of b", st.Last, st.LastSlot)
	}
	powerdown(t, g.m)
	s := loadState(t, d)
	if s.Active != slotstate.A || s.TrialSlot != slotstate.NoSlot || s.Last != slotstate.FellBack || s.LastSlot != slotstate.B {
		t.Fatalf("slot state after the failed trial: %v", s)
	}
}
