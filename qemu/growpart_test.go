package qemu

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/init/timeline"
)

// The growpart tests boot the lean image (no containerd) on disks larger
// than the image, made by extending a copy with truncate (sparse), as
// when the image is written to a 4 GiB or a 64 GiB card. The host reads
// the data filesystem in place afterwards (e2fsprogs' "?offset=" device
// syntax), without copying a 64 GiB partition out. arm64 only: the logic
// is init's, the same on every board.

// dataStart is where the QEMU boards' data partition begins: 1 MiB, the
// boot FAT (64) and two slots (192 each).
const dataStart = 449 << 20

// growTimeout covers a boot that makes or grows a filesystem of 64 GiB
// under TCG.
const growTimeout = 5 * time.Minute

var grownOnce struct {
	path string
}

// bootedOnce is the lean image after one boot at its own size: /var made
// (64 MiB) and boot 1 counted on it, the data the later grows must keep.
func bootedOnce(t *testing.T, b boards.Board) string {
	t.Helper()
	img := builtImage(t, b)
	images.Lock()
	defer images.Unlock()
	if grownOnce.path != "" {
		return grownOnce.path
	}
	d := filepath.Join(images.dir, b.Name+"-booted-once.img")
	must(t, CopyImage(img, d))
	m := start(t, b, d, Direct)
	expect(t, m, `edgegate: data: partition /dev/vda4 stays 64 MiB: only 0 MiB of the disk lie after it`)
	expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(formatted on first boot\)`)
	expect(t, m, `edgegate: boot count 1\r?\n`)
	expect(t, m, `edgegate: ready`)
	if strings.Contains(m.Console.String(), "grew /var") {
		t.Error("/var grew on a disk the image fills")
	}
	powerdown(t, m)
	grownOnce.path = d
	return d
}

// diskOf copies src and extends the copy to size bytes.
func diskOf(t *testing.T, src string, size int64) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "disk.img")
	must(t, CopyImage(src, d))
	must(t, os.Truncate(d, size))
	return d
}

// dataDev names the data filesystem inside a disk image for e2fsprogs.
func dataDev(disk string) string {
	return fmt.Sprintf("%s?offset=%d", disk, dataStart)
}

// fsBytes is the size of the data filesystem as its superblock says.
func fsBytes(t *testing.T, disk string) int64 {
	t.Helper()
	out, err := exec.Command("dumpe2fs", "-h", dataDev(disk)).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs: %v\n%s", err, out)
	}
	field := func(name string) int64 {
		m := regexp.MustCompile(`(?m)^` + name + `:\s+(\d+)$`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("dumpe2fs -h: no %s:\n%s", name, out)
		}
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		return n
	}
	return field("Block count") * field("Block size")
}

// bootCountOn reads the boot counter init keeps on /var.
func bootCountOn(t *testing.T, disk string) int {
	t.Helper()
	out, err := exec.Command("debugfs", "-R", "cat /lib/edgegate/boot-count", dataDev(disk)).Output()
	must(t, err)
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("boot count %q on /var: %v", out, err)
	}
	return n
}

// checkFills: the data filesystem is clean and fills the disk after its
// start but the 4 MiB alignment and the format record.
func checkFills(t *testing.T, disk string, size int64) {
	t.Helper()
	if out, err := exec.Command("e2fsck", "-fn", dataDev(disk)).CombinedOutput(); err != nil {
		t.Errorf("e2fsck -fn of the grown filesystem: %v\n%s", err, out)
	}
	rest := size - dataStart
	if got := fsBytes(t, disk); got > rest || got < rest-8<<20 {
		t.Errorf("filesystem of %d MiB on a disk with %d MiB after the data partition's start", got>>20, rest>>20)
	}
}

// TestDataPartitionGrowsOnFirstBoot: the image's first boot on a 4 GiB
// card grows the partition before anything is on it, and the filesystem
// is made to fill it.
func TestDataPartitionGrowsOnFirstBoot(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Parallel()
	b := boards.QEMUArm64()
	const size = 4 << 30
	d := diskOf(t, builtImage(t, b), size)
	m := start(t, b, d, Direct)
	expect(t, m, `edgegate: data: grew partition /dev/vda4 from 64 to 3647 MiB in \d+ ms\r?\n`)
	expectWithin(t, m, `edgegate: data: /dev/vda4 mounted on /var \(formatted on first boot\)`, growTimeout)
	expect(t, m, `edgegate: data: /var is 364\d MiB, filling /dev/vda4`)
	expect(t, m, `edgegate: ready`)
	line, steps := waitTimeline(t, m, 2*time.Minute)
	checkTimeline(t, line, steps)
	byName := map[string]timeline.Step{}
	for _, s := range steps {
		byName[s.Name] = s
	}
	if byName["growpart"].End > byName["data"].Start || byName["growfs"].Start < byName["data"].End {
		t.Errorf("the partition must grow before /var is checked and the filesystem after it is mounted: %s", line)
	}
	powerdown(t, m)
	checkFills(t, d, size)
}

// TestDataPartitionGrowsUnderData: a gateway that ran on a disk its image
// filled (or on an edgegate without this step) is moved to larger cards:
// the partition grows, then the mounted filesystem, and what the first
// boot wrote is still there.
func TestDataPartitionGrowsUnderData(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Parallel()
	b := boards.QEMUArm64()
	once := bootedOnce(t, b)
	for _, tt := range []struct {
		size     int64
		newMiB   int
		fsNewMiB string
	}{
		{4 << 30, 3647, "364[0-9]"},
		{64 << 30, 65087, "650[0-9][0-9]"},
	} {
		t.Run(fmt.Sprintf("%d GiB", tt.size>>30), func(t *testing.T) {
			d := diskOf(t, once, tt.size)
			m := start(t, b, d, Direct)
			expect(t, m, fmt.Sprintf(`edgegate: data: grew partition /dev/vda4 from 64 to %d MiB in \d+ ms\r?\n`, tt.newMiB))
			expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(existing filesystem\)`)
			took := expectWithin(t, m, `edgegate: data: grew /var from 63 to `+tt.fsNewMiB+` MiB in (\d+) ms\r?\n`, growTimeout)[1]
			t.Logf("grew /var in %s ms", took)
			expect(t, m, `edgegate: boot count 2\r?\n`)
			expect(t, m, `edgegate: ready`)
			powerdown(t, m)
			checkFills(t, d, tt.size)
			if n := bootCountOn(t, d); n != 2 {
				t.Errorf("boot count %d on /var, want 2: the first boot's data is gone", n)
			}
		})
	}
}

// TestDataPartitionGrowPowerCut cuts the power while a gateway grows its
// /var onto a 64 GiB card: right after the table was written, and at a
// seeded random moment after the filesystem began to grow. The next boot
// mounts /var, finishes the grow and counts on from what was there.
func TestDataPartitionGrowPowerCut(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	t.Parallel()
	b := boards.QEMUArm64()
	once := bootedOnce(t, b)
	const size = 64 << 30
	seed := time.Now().UnixNano()
	if s := os.Getenv("EDGEGATE_GROWPART_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("seed %d (EDGEGATE_GROWPART_SEED repeats it)", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	// The cuts land anywhere in the filesystem's grow from 64 MiB to
	// 64 GiB, which took 17 s under TCG on a 2-core host (the kernel adds
	// 8192 block groups of 8 MiB: the 64 MiB filesystem has 1 KiB blocks).
	const growWindow = 17 * time.Second
	cuts := []time.Duration{0, time.Duration(rng.Int64N(int64(growWindow))), time.Duration(rng.Int64N(int64(growWindow)))}
	for i, delay := range cuts {
		t.Run(fmt.Sprintf("cut %d", i), func(t *testing.T) {
			d := diskOf(t, once, size)
			m := start(t, b, d, Direct)
			expect(t, m, `edgegate: data: grew partition /dev/vda4 from 64 to 65087 MiB`)
			if delay > 0 {
				expect(t, m, `edgegate: data: /dev/vda4 mounted on /var`)
				time.Sleep(delay)
			}
			m.Kill()
			t.Logf("power cut %v after the %s", delay, map[bool]string{true: "mount", false: "table write"}[delay > 0])

			m = start(t, b, d, Direct)
			expect(t, m, `edgegate: data: partition /dev/vda4 stays 65087 MiB: only 0 MiB of the disk lie after it`)
			expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(existing filesystem\)`)
			// The cut fell before the filesystem grew, during, or after:
			// this boot grows it the rest of the way, or has nothing to do.
			next := expectWithin(t, m, `edgegate: (data: grew /var from (\d+) to 650\d\d MiB in \d+ ms|boot count (\d+))\r?\n`, growTimeout)
			if next[2] != "" {
				t.Logf("the cut left /var at %s MiB; this boot grew it the rest of the way", next[2])
				next = expect(t, m, `edgegate: (boot count (\d+))\r?\n`)
			} else {
				t.Log("the cut came after /var had grown")
			}
			expect(t, m, `edgegate: ready`)
			powerdown(t, m)
			checkFills(t, d, size)
			// Boot 1 was counted before the grow; a /var made again would
			// count from 1.
			counted, _ := strconv.Atoi(next[len(next)-1])
			if n := bootCountOn(t, d); counted < 2 || n != counted {
				t.Errorf("boot count %d on the console, %d on /var afterwards; want the same, at least 2", counted, n)
			}
		})
	}
}
