package datapart

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Prepare tests run the host's real mke2fs and e2fsck on partition
// images in files, through the paths a boot takes.

func tools(t *testing.T) (mkfs, fsck string) {
	t.Helper()
	mkfs, err1 := exec.LookPath("mke2fs")
	fsck, err2 := exec.LookPath("e2fsck")
	if err1 != nil || err2 != nil {
		t.Skip("e2fsprogs not installed")
	}
	return mkfs, fsck
}

const partSize = 16 << 20

func partition(t *testing.T) (string, Options, *[]string) {
	t.Helper()
	mkfs, fsck := tools(t)
	img := filepath.Join(t.TempDir(), "data.img")
	if err := os.WriteFile(img, make([]byte, partSize), 0o644); err != nil {
		t.Fatal(err)
	}
	var said []string
	o := Options{Device: img, Label: "edgegate-data", Mkfs: mkfs, Fsck: fsck,
		Say: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }}
	return img, o, &said
}

func patch(t *testing.T, img string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func prepared(t *testing.T, o Options) Result {
	t.Helper()
	res, err := Prepare(o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPrepareFormatsBlankOnceThenChecks(t *testing.T) {
	img, o, _ := partition(t)
	if res := prepared(t, o); !res.Formatted || res.Before != Blank {
		t.Fatalf("first boot: %+v, want formatted from blank", res)
	}
	_, state, rec, err := inspect(img)
	if err != nil || state != Ext4 || rec != recordDone {
		t.Fatalf("after format: state %v record %q err %v", state, rec, err)
	}
	if res := prepared(t, o); res.Formatted || res.Check != "clean" {
		t.Fatalf("second boot: %+v, want checked clean, not formatted", res)
	}
}

// TestPrepareFinishesInterruptedFormat: a power cut during mke2fs leaves
// the "formatting" record and a partly written start; the next boot
// formats again instead of refusing a "foreign" partition.
func TestPrepareFinishesInterruptedFormat(t *testing.T) {
	img, o, said := partition(t)
	patch(t, img, partSize-recordSize, []byte(recordFormatting))
	patch(t, img, 4096, []byte("half-written inode table"))
	res := prepared(t, o)
	if !res.Resumed || !res.Formatted {
		t.Fatalf("%+v, want resumed format", res)
	}
	if !strings.Contains(strings.Join(*said, "\n"), "interrupted") {
		t.Errorf("console did not say the format was interrupted: %q", *said)
	}
	if res := prepared(t, o); res.Check != "clean" {
		t.Fatalf("after resumed format: %+v", res)
	}
}

func TestPrepareRepairsDamage(t *testing.T) {
	img, o, _ := partition(t)
	prepared(t, o)
	// Mark the filesystem not clean and give it a wrong free-blocks count:
	// preen must run a full check and correct it.
	patch(t, img, superblockOffset+0x3A, []byte{0, 0})
	patch(t, img, superblockOffset+0x0C, binary.LittleEndian.AppendUint32(nil, 7))
	if res := prepared(t, o); res.Check != "repaired" || res.Formatted {
		t.Fatalf("%+v, want repaired in place", res)
	}
	if res := prepared(t, o); res.Check != "clean" {
		t.Fatalf("after repair: %+v", res)
	}
}

// TestPrepareKeepsPartitionWithoutSuperblock overwrites every superblock
// of a filesystem edgegate made. e2fsck cannot even open it (exit 8), which
// is no verdict on the filesystem: the partition is left exactly as it is,
// after the bounded retries, and the error says why.
func TestPrepareKeepsPartitionWithoutSuperblock(t *testing.T) {
	img, o, said := partition(t)
	prepared(t, o)
	junk := make([]byte, partSize-recordSize)
	for i := range junk {
		junk[i] = 0xa5
	}
	patch(t, img, 0, junk)
	before, _ := os.ReadFile(img)
	var slept []time.Duration
	o.Sleep = func(d time.Duration) { slept = append(slept, d) }
	res, err := Prepare(o)
	if err == nil || res.Recreated || res.Formatted {
		t.Fatalf("Prepare = %+v, %v; want an error and nothing formatted", res, err)
	}
	if !strings.Contains(err.Error(), "e2fsck -f -y failed (exit 8)") || !strings.Contains(err.Error(), "e2fsck: Bad magic number in super-block while trying to open") ||
		!strings.Contains(err.Error(), "left as it is") {
		t.Errorf("error %q does not say e2fsck failed and the partition was kept", err)
	}
	if after, _ := os.ReadFile(img); !bytes.Equal(before, after) {
		t.Fatal("the partition was modified")
	}
	if want := []time.Duration{2 * time.Second, 4 * time.Second}; res.Attempts != 3 || !slices.Equal(slept, want) {
		t.Errorf("%d attempts, pauses %v; want 3 attempts, pauses %v", res.Attempts, slept, want)
	}
	if strings.Contains(strings.Join(*said, "\n"), "RECREATING") {
		t.Errorf("console announced a recreation: %q", *said)
	}
}

func TestPrepareKeepsForeignUntouched(t *testing.T) {
	img, o, _ := partition(t)
	patch(t, img, 0, []byte("precious user data"))
	patch(t, img, partSize-recordSize, []byte(recordDone[:5])) // not a record
	before, _ := os.ReadFile(img)
	if _, err := Prepare(o); err == nil || !strings.Contains(err.Error(), "not ext4") {
		t.Fatalf("err = %v, want refusal", err)
	}
	after, _ := os.ReadFile(img)
	if string(before) != string(after) {
		t.Fatal("foreign partition was modified")
	}
}
