package qemu

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/init/slotstate"
)

// The trial tests boot whole images through U-Boot with slot B written
// from a built image, as an update would leave it: invalidated, written,
// then armed for one trial boot.

// sickImage returns b's image whose one service never passes its health
// check, with a short trial deadline: a slot built from it fails its
// trial.
func sickImage(t *testing.T, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	key := b.Name + "-sick"
	if p, ok := images.built[key]; ok {
		return p
	}
	cfg := `trial:
  deadline: 10s
services:
- name: sick
  path: /usr/bin/testsvc
  args: [serve]
  health:
    kind: tcp
    address: 127.0.0.1:9
`
	out := filepath.Join(images.dir, key+".img")
	_, err := image.Build(t.Context(), image.Options{
		Board: b, Version: "sick", Output: out, Cache: testCache(t), Config: []byte(cfg),
		Extra: []image.ExtraFile{{Path: "/usr/bin/testsvc", Data: buildTestService(t, b), Mode: 0o755}},
	})
	if err != nil {
		t.Fatalf("building %s: %v", key, err)
	}
	images.built[key] = out
	return out
}

// partitionSpan is partition n's byte offset and size in a disk image.
func partitionSpan(t testing.TB, f *os.File, n int) (int64, int64) {
	t.Helper()
	mbr := make([]byte, 512)
	if _, err := f.ReadAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
	e := mbr[446+16*(n-1):]
	return int64(binary.LittleEndian.Uint32(e[8:])) * 512, int64(binary.LittleEndian.Uint32(e[12:])) * 512
}

// installSlotB writes slot A of from into slot B of d and arms it for a
// trial boot, the transitions the update service makes.
func installSlotB(t *testing.T, d, from string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(d, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	st := slotstate.NewStore(dst)
	if _, err := st.Invalidate(slotstate.B); err != nil {
		t.Fatal(err)
	}
	aOff, aSize := partitionSpan(t, src, 2)
	bOff, bSize := partitionSpan(t, dst, 3)
	if aSize != bSize {
		t.Fatalf("slot sizes differ: %d and %d", aSize, bSize)
	}
	buf := make([]byte, aSize)
	if _, err := src.ReadAt(buf, aOff); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.WriteAt(buf, bOff); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Trial(slotstate.B); err != nil {
		t.Fatal(err)
	}
}

func loadState(t *testing.T, d string) slotstate.State {
	t.Helper()
	st, err := readPair(t, d).State()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func startRebooting(t *testing.T, b boards.Board, d string) *Machine {
	t.Helper()
	fw, err := Firmware(t.Context(), testCache(t), b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Start(t.Context(), Config{Board: b, Image: d, Path: UBoot, Firmware: fw, Reboot: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TestTrialCommit: a healthy slot B on trial is booted once and committed
// by its init; the record then has slot b committed and the next boot
// boots it without a trial.
func TestTrialCommit(t *testing.T) {
	t.Parallel() // two QEMU guests at once: one per core
	for _, b := range emulated(t) {
		t.Run(b.Name, func(t *testing.T) {
			d := freshDisk(t, b)
			installSlotB(t, d, builtImage(t, b))
			m := start(t, b, d, UBoot)
			expect(t, m, `edgegate: trial boot of slot b \(committed: slot a\), 0 tries left`)
			expect(t, m, `edgegate: init version=test board=`+b.Name+` slot=b`)
			expect(t, m, `edgegate: slot b on trial \(version test\)`)
			expect(t, m, `edgegate: slot b committed after its trial`)
			powerdown(t, m)
			st := loadState(t, d)
			if st.Active != slotstate.B || st.TrialSlot != slotstate.NoSlot || st.Last != slotstate.Committed {
				t.Fatalf("after the trial: %v", st)
			}
		})
	}
}

// TestTrialRollback: a slot B whose service never gets healthy is booted
// once; init reboots at the trial deadline, U-Boot records the failure and
// boots slot a, whose init says so; slot b is not tried again.
func TestTrialRollback(t *testing.T) {
	t.Parallel() // two QEMU guests at once: one per core
	b := emulated(t)[0]
	d := freshDisk(t, b)
	installSlotB(t, d, sickImage(t, b))
	m := startRebooting(t, b, d)
	expect(t, m, `edgegate: trial boot of slot b`)
	expect(t, m, `edgegate: init version=sick board=`+b.Name+` slot=b`)
	expect(t, m, `edgegate: slot b failed its trial: not healthy within 10s: not healthy: sick \S+; rebooting`)
	expect(t, m, `edgegate: slot b failed its trial: falling back to slot a`)
	expect(t, m, `edgegate: init version=test board=`+b.Name+` slot=a`)
	expect(t, m, `edgegate: slot b failed its trial \(.*\); running slot a \(version test\)`)
	expect(t, m, `edgegate: ready`)
	powerdown(t, m)
	st := loadState(t, d)
	if st.Active != slotstate.A || st.TrialSlot != slotstate.NoSlot || st.Last != slotstate.FellBack || st.LastSlot != slotstate.B {
		t.Fatalf("after the failed trial: %v", st)
	}
}

// TestTrialCommitPowerCut cuts the power at seeded random instants around
// init's commit of a trial slot: the record is then the counted try or
// the commit, and the next boot reaches a committed slot (b committed, or
// a after falling back).
func TestTrialCommitPowerCut(t *testing.T) {
	t.Parallel() // two QEMU guests at once: one per core
	b := emulated(t)[0]
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("EDGEGATE_POWERCUT_SEED"); s != "" {
		var err error
		if seed, err = parseSeed(s); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (EDGEGATE_POWERCUT_SEED=%d repeats it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	committedLine := regexp.MustCompile(`edgegate: slot b committed after its trial`)
	for i := range 3 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			d := freshDisk(t, b)
			installSlotB(t, d, builtImage(t, b))
			m := start(t, b, d, UBoot)
			expect(t, m, `edgegate: init version=test board=\S+ slot=b`)
			// The first cut falls in init's early boot, before the
			// commit; the others right after init says the slot is on
			// trial, when it commits at once (this image has no
			// services to wait for).
			delay := time.Duration(rng.Int64N(int64(time.Second)))
			if i > 0 {
				expect(t, m, `edgegate: slot b on trial`)
				delay = time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
			}
			time.Sleep(delay)
			m.Kill()
			st := loadState(t, d)
			committed := committedLine.MatchString(m.Console.String())
			t.Logf("cut %d, %v after its anchor line: %v (commit line seen: %v)", i, delay, st, committed)
			switch {
			case st.Active == slotstate.B && st.Last == slotstate.Committed:
			case st.Active == slotstate.A && st.TrialSlot == slotstate.B && st.TriesLeft == 0 && !committed:
			default:
				t.Fatalf("state after the cut: %v", st)
			}
			want, _, _ := st.Boot()
			m = start(t, b, d, UBoot)
			expect(t, m, `edgegate: init version=test board=\S+ slot=`+string(want))
			expect(t, m, `edgegate: slot `+string(want)+` committed|running slot `+string(want))
			powerdown(t, m)
		})
	}
}
