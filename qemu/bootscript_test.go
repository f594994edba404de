package qemu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/init/slotstate"
)

// The boot script's slot state logic runs in the real U-Boot, on a small
// disk that holds only the boot script and the two records: no kernel, so
// a boot ends where the script loads one, a few seconds after power-on.

// scriptDisk writes a disk with b's boot script and the given sectors.
func scriptDisk(t *testing.T, b boards.Board, copies [2][]byte) string {
	t.Helper()
	script, scr, err := image.BootScript(b, image.DefaultEpoch)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "script.img")
	err = disk.Write(p, disk.Spec{
		DiskID: 1, Epoch: image.DefaultEpoch,
		Sectors: map[int64][]byte{slotstate.Copies[0]: copies[0], slotstate.Copies[1]: copies[1]},
		Partitions: []disk.Partition{
			{SizeMiB: 64, Type: disk.TypeFAT32LBA, Bootable: true, FAT: &disk.FAT{
				Label: "EDGEBOOT", Files: map[string][]byte{"boot.scr": scr, "boot.cmd": []byte(script)},
			}},
			{SizeMiB: 1, Type: disk.TypeFAT32LBA},
			{SizeMiB: 1, Type: disk.TypeFAT32LBA},
			{SizeMiB: 1, Type: disk.TypeLinux},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var bootingSlot = regexp.MustCompile(`edgegate: booting slot ([ab]) from partition`)

// runScript boots U-Boot on d until the script names the slot it boots,
// and returns that slot and the console.
func runScript(t *testing.T, b boards.Board, d string) (slotstate.Slot, string) {
	t.Helper()
	m := start(t, b, d, UBoot)
	sub, err := m.Console.Expect(bootingSlot, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	m.Kill()
	return slotstate.Slot(sub[1]), m.Console.String()
}

func readPair(t *testing.T, d string) slotstate.Pair {
	t.Helper()
	p, err := slotstate.ReadPairFile(d)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func corrupt(rec []byte) []byte {
	c := append([]byte(nil), rec...)
	c[100] ^= 0x40 // one flipped bit: the CRC no longer matches
	return c
}

// TestBootScriptSlotState: for each state on disk, U-Boot boots the slot
// State.Boot says and leaves the record it says, written over the copy
// that was not current; a corrupt copy is ignored, both corrupt boot slot
// a as built.
func TestBootScriptSlotState(t *testing.T) {
	bs := emulated(t)
	committedA := slotstate.Initial()
	trialB, _ := committedA.Trial(slotstate.B)
	tried := trialB
	tried.TriesLeft, tried.Seq = 0, tried.Seq+1
	invalidB, _ := committedA.Invalidate(slotstate.B)
	committedB := slotstate.State{Seq: 9, Active: slotstate.B, Last: slotstate.Committed, LastSlot: slotstate.B}
	cases := []struct {
		name   string
		copies [2][]byte
		want   slotstate.State // the state the script starts from
		lines  []string
	}{
		{"committed a", [2][]byte{committedA.Marshal(), committedA.Marshal()}, committedA, nil},
		{"b invalidated is not booted", [2][]byte{committedA.Marshal(), invalidB.Marshal()}, invalidB, nil},
		{"trial b counts its try", [2][]byte{trialB.Marshal(), committedA.Marshal()}, trialB,
			[]string{"trial boot of slot b (committed: slot a), 0 tries left"}},
		{"trial b out of tries falls back", [2][]byte{trialB.Marshal(), tried.Marshal()}, tried,
			[]string{"slot b failed its trial: falling back to slot a"}},
		{"newer copy corrupt", [2][]byte{committedA.Marshal(), corrupt(committedB.Marshal())}, committedA,
			[]string{"slot state copy 1 is corrupt, ignored"}},
		{"higher sequence wins", [2][]byte{committedA.Marshal(), committedB.Marshal()}, committedB, nil},
		{"both corrupt", [2][]byte{corrupt(committedB.Marshal()), make([]byte, slotstate.SectorSize)}, slotstate.Initial(),
			[]string{"slot state unreadable (both copies corrupt): booting slot a as built"}},
	}
	for _, b := range bs {
		t.Run(b.Name, func(t *testing.T) {
			for _, c := range cases {
				if b.Arch == boards.ARMv7 && c.name != "trial b counts its try" {
					continue // the good path on armv7; the table on arm64
				}
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					d := scriptDisk(t, b, c.copies)
					before := readPair(t, d)
					got, console := runScript(t, b, d)
					wantSlot, next, write := c.want.Boot()
					if got != wantSlot {
						t.Fatalf("booted slot %s, want %s; console:\n%s", got, wantSlot, console)
					}
					for _, l := range c.lines {
						if !regexp.MustCompile(regexp.QuoteMeta("edgegate: " + l)).MatchString(console) {
							t.Errorf("console lacks %q:\n%s", l, console)
						}
					}
					after := readPair(t, d)
					if !write {
						if !samePair(after, before) {
							t.Errorf("records changed without a trial: %+v -> %+v", before, after)
						}
						return
					}
					cur, err := after.State()
					if err != nil || cur != next {
						t.Fatalf("after the boot: %v, %v; want %v; console:\n%s", cur, err, next, console)
					}
					// The copy the script started from is untouched.
					old := before.Current()
					if after.Errs[old] != nil || after.States[old] != before.States[old] {
						t.Errorf("the script overwrote the current copy %d", old)
					}
				})
			}
		})
	}
}

// TestBootScriptPowerCut cuts the power at seeded random instants while
// U-Boot reads and writes the record of a trial boot; every time the
// records hold the old state or the new one, and the next boot boots the
// slot that state says.
func TestBootScriptPowerCut(t *testing.T) {
	t.Parallel() // two QEMU guests at once: one per core
	bs := emulated(t)
	b := bs[0]
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("EDGEGATE_POWERCUT_SEED"); s != "" {
		var err error
		if seed, err = parseSeed(s); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (EDGEGATE_POWERCUT_SEED=%d repeats it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	trialB, _ := slotstate.Initial().Trial(slotstate.B)
	_, counted, _ := trialB.Boot()
	// Measure where the write happens on this machine, then cut around it.
	d := scriptDisk(t, b, [2][]byte{trialB.Marshal(), slotstate.Initial().Marshal()})
	m := start(t, b, d, UBoot)
	t0 := time.Now()
	if _, err := m.Console.Expect(regexp.MustCompile(`slot state seq \S+ written`), 60*time.Second); err != nil {
		t.Fatal(err)
	}
	writeAt := time.Since(t0)
	m.Kill()
	// Half the cuts anywhere up to a little past the write, half within
	// 300ms of it, where the record is being read and written.
	const cuts = 8
	for i := range cuts {
		delay := time.Duration(rng.Int64N(int64(writeAt) + int64(time.Second)))
		if i%2 == 1 {
			delay = writeAt - 300*time.Millisecond + time.Duration(rng.Int64N(int64(600*time.Millisecond)))
		}
		t.Run(delay.Round(time.Millisecond).String(), func(t *testing.T) {
			d := scriptDisk(t, b, [2][]byte{trialB.Marshal(), slotstate.Initial().Marshal()})
			m := start(t, b, d, UBoot)
			time.Sleep(delay)
			m.Kill()
			st, err := readPair(t, d).State()
			if err != nil || (st != trialB && st != counted) {
				t.Fatalf("cut %d after %v: state %v, %v; want %v or %v", i, delay, st, err, trialB, counted)
			}
			t.Logf("cut %d after %v: %v", i, delay, st)
			want, _, _ := st.Boot()
			if got, console := runScript(t, b, d); got != want {
				t.Fatalf("cut %d after %v: next boot started slot %s, want %s:\n%s", i, delay, got, want, console)
			}
		})
	}
}

func parseSeed(s string) (uint64, error) {
	var v uint64
	_, err := fmt.Sscan(s, &v)
	return v, err
}

// samePair: the same states, and the same copies valid.
func samePair(x, y slotstate.Pair) bool {
	return x.States == y.States && (x.Errs[0] == nil) == (y.Errs[0] == nil) && (x.Errs[1] == nil) == (y.Errs[1] == nil)
}
