package slotstate

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	states := []State{
		Initial(),
		{Seq: 7, Active: A, TrialSlot: B, TriesLeft: 1, Last: Armed, LastSlot: B},
		{Seq: 8, Active: A, TrialSlot: B, Last: Tried, LastSlot: B},
		{Seq: 9, Active: A, Last: FellBack, LastSlot: B},
		{Seq: MaxSeq + 2, Active: B, Last: Committed, LastSlot: B},
	}
	for _, s := range states {
		b := s.Marshal()
		if len(b) != SectorSize {
			t.Fatalf("%d bytes", len(b))
		}
		got, err := Parse(b)
		if err != nil || got != s {
			t.Errorf("Parse(Marshal(%v)) = %v, %v", s, got, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	good := State{Seq: 3, Active: A, TrialSlot: B, TriesLeft: 1, Last: Armed, LastSlot: B}.Marshal()
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	// reseal recomputes the CRC, for fields that are wrong but sealed.
	reseal := func(f func(b []byte)) []byte {
		return mod(func(b []byte) {
			f(b)
			copy(b[OffCRC:], crcOf(b[:OffCRC]))
		})
	}
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", good[:100], "100 bytes"},
		{"blank", make([]byte, SectorSize), "blank sector"},
		{"bad magic", mod(func(b []byte) { b[0] = 'X' }), "bad magic"},
		{"other version", reseal(func(b []byte) { b[offVersion] = 2 }), "version 2"},
		{"flipped bit", mod(func(b []byte) { b[offTries] ^= 1 }), "checksum"},
		{"torn: new first half, old second", append(State{Seq: 4, Active: B, Last: Committed, LastSlot: B}.Marshal()[:256], good[256:]...), "checksum"},
		{"bad crc", mod(func(b []byte) { b[OffCRC] ^= 0xff }), "checksum"},
		{"active not a slot", reseal(func(b []byte) { b[offActive] = 'c' }), "active"},
		{"trial is active", reseal(func(b []byte) { b[offTrial] = 'a' }), "both committed and on trial"},
		{"tries without trial", reseal(func(b []byte) { b[offTrial] = 0 }), "tries left with no slot"},
		{"unknown event", reseal(func(b []byte) { b[offEvent] = 9 }), "unknown event"},
	}
	for _, c := range cases {
		_, err := Parse(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %q", c.name, err, c.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	a := Initial()
	inv, err := a.Invalidate(B)
	want := State{Seq: 2, Active: A, Last: Invalidated, LastSlot: B}
	if err != nil || inv != want {
		t.Fatalf("Invalidate(b) = %v, %v; want %v", inv, err, want)
	}
	armed, err := inv.Trial(B)
	want = State{Seq: 3, Active: A, TrialSlot: B, TriesLeft: TrialTries, Last: Armed, LastSlot: B}
	if err != nil || armed != want {
		t.Fatalf("Trial(b) = %v, %v; want %v", armed, err, want)
	}
	// The bootloader counts the try, then boots b.
	slot, tried, write := armed.Boot()
	want = State{Seq: 4, Active: A, TrialSlot: B, Last: Tried, LastSlot: B}
	if slot != B || !write || tried != want {
		t.Fatalf("Boot of armed = %s %v %v; want b %v", slot, tried, write, want)
	}
	// Committed by init on b.
	com, changed, err := tried.Commit(B)
	want = State{Seq: 5, Active: B, Last: Committed, LastSlot: B}
	if err != nil || !changed || com != want {
		t.Fatalf("Commit(b) = %v %v %v; want %v", com, changed, err, want)
	}
	if slot, _, write := com.Boot(); slot != B || write {
		t.Errorf("Boot of committed b = %s, write %v", slot, write)
	}
	if _, changed, err := com.Commit(B); changed || err != nil {
		t.Errorf("Commit of the committed slot: changed %v, %v", changed, err)
	}
	// Not committed: the next boot falls back and records it.
	slot, fell, write := tried.Boot()
	want = State{Seq: 5, Active: A, Last: FellBack, LastSlot: B}
	if slot != A || !write || fell != want {
		t.Fatalf("Boot with no tries left = %s %v; want a %v", slot, fell, want)
	}
	if slot, _, write := fell.Boot(); slot != A || write {
		t.Errorf("the failed slot is booted again: %s, write %v", slot, write)
	}
	if _, _, err := fell.Commit(B); err == nil {
		t.Error("committed a slot that fell back")
	}
	if slot, _, _ := inv.Boot(); slot != A {
		t.Errorf("an invalidated slot was booted")
	}
	// Refusals name the problem.
	for name, err := range map[string]error{
		"invalidate active": errOf(a.Invalidate(A)),
		"trial active":      errOf(a.Trial(A)),
		"bad slot":          errOf(a.Trial("c")),
	} {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func errOf(_ State, err error) error { return err }

func TestSequenceExhausted(t *testing.T) {
	s := State{Seq: MaxSeq, Active: A}
	if _, err := s.Invalidate(B); !errors.Is(err, ErrSeqExhausted) {
		t.Errorf("Invalidate at MaxSeq: %v", err)
	}
	s.Seq = MaxSeq - 1
	n, err := s.Trial(B)
	if err != nil || n.Seq != MaxSeq {
		t.Fatalf("Trial below MaxSeq: %v, %v", n, err)
	}
	// The bootloader's writes after it still order above it.
	_, tried, _ := n.Boot()
	_, fell, _ := tried.Boot()
	if !(fell.Seq > tried.Seq && tried.Seq > n.Seq) {
		t.Errorf("sequence wrapped: %d %d %d", n.Seq, tried.Seq, fell.Seq)
	}
}

func TestRunning(t *testing.T) {
	for in, want := range map[string]Slot{
		"console=ttyAMA0 edgegate.slot=a quiet": A,
		"edgegate.slot=B":                       B,
		"quiet":                                 NoSlot,
		"edgegate.slot=c":                       NoSlot,
	} {
		got, err := Running(in)
		if got != want || (want == NoSlot) != (err != nil) {
			t.Errorf("Running(%q) = %q, %v", in, got, err)
		}
	}
}

// disk is a file standing for the boot disk.
func disk(t *testing.T, copies [2][]byte) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	for i, c := range copies {
		if c != nil {
			if _, err := f.WriteAt(c, Copies[i]*SectorSize); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

func TestStoreCopies(t *testing.T) {
	s5 := State{Seq: 5, Active: A, Last: Committed, LastSlot: A}
	s6 := State{Seq: 6, Active: B, Last: Committed, LastSlot: B}
	torn := append(s6.Marshal()[:200], make([]byte, SectorSize-200)...)
	cases := []struct {
		name      string
		copies    [2][]byte
		want      State
		wantErr   error
		writeCopy int
	}{
		{"both valid, copy 1 newer", [2][]byte{s5.Marshal(), s6.Marshal()}, s6, nil, 0},
		{"both valid, copy 0 newer", [2][]byte{s6.Marshal(), s5.Marshal()}, s6, nil, 1},
		{"same sequence: copy 0", [2][]byte{s5.Marshal(), s5.Marshal()}, s5, nil, 1},
		{"newer copy torn", [2][]byte{s5.Marshal(), torn}, s5, nil, 1},
		{"older copy blank", [2][]byte{nil, s5.Marshal()}, s5, nil, 0},
		{"both bad", [2][]byte{torn, nil}, Initial(), ErrUnreadable, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := disk(t, c.copies)
			st := NewStore(f)
			got, err := st.Load()
			if got != c.want || !errors.Is(err, c.wantErr) {
				t.Fatalf("Load = %v, %v; want %v, %v", got, err, c.want, c.wantErr)
			}
			before, _ := ReadPair(f)
			next, err := st.Invalidate(got.Active.Other())
			if err != nil {
				t.Fatal(err)
			}
			after, _ := ReadPair(f)
			if after.Errs[c.writeCopy] != nil || after.States[c.writeCopy] != next {
				t.Errorf("copy %d = %v, %v; want the new %v", c.writeCopy, after.States[c.writeCopy], after.Errs[c.writeCopy], next)
			}
			other := 1 - c.writeCopy
			if (after.Errs[other] == nil) != (before.Errs[other] == nil) || after.States[other] != before.States[other] {
				t.Errorf("copy %d was changed too", other)
			}
			if reread, _ := st.Load(); reread != next {
				t.Errorf("Load after the write = %v, want %v", reread, next)
			}
		})
	}
}

// TestStoreTornWrite: a write cut at any byte leaves the state either as
// it was or as written, never unreadable.
func TestStoreTornWrite(t *testing.T) {
	old := State{Seq: 5, Active: A, TrialSlot: B, TriesLeft: 1, Last: Armed, LastSlot: B}
	newRec := State{Seq: 6, Active: A, TrialSlot: B, Last: Tried, LastSlot: B}.Marshal()
	stale := State{Seq: 4, Active: A, Last: Invalidated, LastSlot: B}.Marshal()
	for cut := 0; cut <= SectorSize; cut += 8 {
		rec := append(append([]byte(nil), newRec[:cut]...), stale[cut:]...)
		f := disk(t, [2][]byte{old.Marshal(), rec})
		got, err := NewStore(f).Load()
		if err != nil || (got != old && cut < SectorSize) || (cut == SectorSize && got.Seq != 6) {
			t.Fatalf("cut at byte %d: %v, %v", cut, got, err)
		}
	}
}

func TestStoreRepair(t *testing.T) {
	s5 := State{Seq: 5, Active: B, Last: Committed, LastSlot: B}
	f := disk(t, [2][]byte{s5.Marshal(), nil})
	st := NewStore(f)
	got, wrote, err := st.Repair()
	if err != nil || !wrote || got.Seq != 6 || got.Active != B {
		t.Fatalf("Repair = %v %v %v", got, wrote, err)
	}
	p, _ := ReadPair(f)
	if p.Errs[0] != nil || p.Errs[1] != nil {
		t.Fatalf("after repair: %v", p.Errs)
	}
	if _, wrote, _ := st.Repair(); wrote {
		t.Error("repaired a pair with both copies good")
	}
}

func TestString(t *testing.T) {
	for s, want := range map[State]string{
		Initial(): "slot a committed; last: as built; seq 1",
		{Seq: 9, Active: A, Last: FellBack, LastSlot: B}:                          "slot a committed; last: slot b failed its trial",
		{Seq: 3, Active: A, TrialSlot: B, TriesLeft: 1, Last: Armed, LastSlot: B}: "slot b on trial (1 tries left)",
	} {
		if got := s.String(); !strings.Contains(got, want) {
			t.Errorf("%#v.String() = %q, want it to hold %q", s, got, want)
		}
	}
}

func crcOf(b []byte) []byte {
	out := make([]byte, 4)
	binary.BigEndian.PutUint32(out, crc32.ChecksumIEEE(b))
	return out
}
