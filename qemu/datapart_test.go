package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/disk"
)

// The data partition fault tests boot an image whose /sbin/e2fsck is
// qemu/testdata/fsckfault, the real one beside it: the kernel parameter
// edgegate.test.fsck tells it how to fail, run by run. A first boot makes
// the filesystem and counts boot 1 on it (/var/lib/edgegate/boot-count,
// the marker); each fault then boots a copy of that disk, and the host
// reads the partition afterwards: the same filesystem with the marker,
// except where e2fsck -f -y said the filesystem cannot be repaired.
// arm64 only: the logic is the board's init, the same on every board.

var faultImage struct {
	path string
}

// dataFaultImage builds the fault tests' image once: the wrapper as
// /sbin/e2fsck, the board's e2fsck as /sbin/e2fsck.real, and a service
// that prints what init wrote in /run/edgegate/degraded/var.
func dataFaultImage(t *testing.T, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if faultImage.path != "" {
		return faultImage.path
	}
	wrapper := buildTestdata(t, b, "fsckfault")
	cfg := fmt.Sprintf(`hostname: gw-faults
network: {interface: %s, mode: dhcp}
services:
- name: showdegraded
  path: /usr/bin/fsckfault
  args: [cat, /run/edgegate/degraded/var]
  restart: never
`, b.Net)
	out := filepath.Join(images.dir, b.Name+"-datafaults.img")
	_, err := image.Build(t.Context(), image.Options{
		Board: b, Version: "test", Output: out, Cache: testCache(t), Config: []byte(cfg),
		Extra: []image.ExtraFile{
			{Path: "/sbin/e2fsck", Data: wrapper, Mode: 0o755},
			{Path: "/sbin/e2fsck.real", Data: realE2fsck(t, b), Mode: 0o755},
			{Path: "/usr/bin/fsckfault", Data: wrapper, Mode: 0o755},
		},
	})
	if err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	faultImage.path = out
	return out
}

// realE2fsck is the e2fsck the board's image carries, from its package.
func realE2fsck(t *testing.T, b boards.Board) []byte {
	t.Helper()
	for _, f := range b.Userland {
		if f.From.Name != "e2fsprogs" {
			continue
		}
		root, err := testCache(t).Unpacked(t.Context(), f.From)
		must(t, err)
		data, err := os.ReadFile(filepath.Join(root, "sbin/e2fsck"))
		must(t, err)
		return data
	}
	t.Fatalf("board %s carries no e2fsprogs", b.Name)
	return nil
}

// buildTestdata compiles qemu/testdata/<name> for b's CPU.
func buildTestdata(t testing.TB, b boards.Board, name string) []byte {
	t.Helper()
	src, err := image.FindSource(".")
	must(t, err)
	out := filepath.Join(images.dir, name+"-"+b.Name)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./qemu/testdata/"+name)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+b.Arch.GOARCH(), "GOARM="+b.Arch.GOARM())
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v: %s", name, err, msg)
	}
	data, err := os.ReadFile(out)
	must(t, err)
	return data
}

func TestDataPartitionFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("boots QEMU")
	}
	b := boards.QEMUArm64()
	first := filepath.Join(t.TempDir(), "first.img")
	must(t, CopyImage(dataFaultImage(t, b), first))
	m := bootFaulty(t, b, first, "")
	expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(formatted on first boot\)`)
	expect(t, m, `edgegate: boot count 1\r?\n`)
	expect(t, m, `edgegate: ready version=test slot=a board=qemu-arm64\r?\n`)
	powerdown(t, m)
	before := readDataFS(t, first)
	if before.bootCount != "1" {
		t.Fatalf("first boot left boot count %q", before.bootCount)
	}
	// fresh is a copy of the disk after the first boot.
	fresh := func(t *testing.T) string {
		d := filepath.Join(t.TempDir(), "disk.img")
		must(t, CopyImage(first, d))
		return d
	}

	// One boot shows the three failures of e2fsck that are no verdict on
	// the filesystem, one per try: -y exits 8 (after preen did), then
	// e2fsck is killed by a signal, then it cannot be executed. Then a
	// boot whose first try is killed mounts the data on the second: the
	// marker is read back by the gateway itself.
	t.Run("e2fsck fails", func(t *testing.T) {
		t.Parallel()
		d := fresh(t)
		m := bootFaulty(t, b, d, "exit8,exit8,noexec")
		console := expectDegraded(t, m)
		for _, want := range []string{
			"e2fsck -p on /dev/vda4 gave up (exit 8)",
			"e2fsck -f -y failed (exit 8): fsckfault -f -y /dev/vda4: exit 8 on purpose; trying again in 2s (attempt 2 of 3)",
			"e2fsck -p was killed by signal killed; trying again in 4s (attempt 3 of 3)",
			"DEGRADED var: data partition /dev/vda4: e2fsck -p could not be executed: fork/exec /sbin/e2fsck: exec format error (tried 3 times; the partition was left as it is)",
		} {
			if !strings.Contains(console, want) {
				t.Errorf("console lacks %q", want)
			}
		}
		powerOff(t, m)
		checkUntouched(t, d, before)

		m = bootFaulty(t, b, d, "kill,real")
		expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(existing filesystem, on attempt 2\)`)
		expect(t, m, `edgegate: boot count 2\r?\n`)
		expect(t, m, `edgegate: ready version=test slot=a board=qemu-arm64\r?\n`)
		powerdown(t, m)
	})

	// The filesystem passes e2fsck but the kernel refuses it: here a
	// feature flag it does not know, as after a rollback to an older
	// kernel. Tried again, then /var in RAM; once the flag is gone, the
	// data is all there.
	t.Run("mount refused", func(t *testing.T) {
		t.Parallel()
		d := fresh(t)
		restore := setUnknownFeature(t, d)
		m := bootFaulty(t, b, d, "exit0")
		console := expectDegraded(t, m)
		if want := "(after e2fsck passed it) (tried 3 times; the partition was left as it is)"; !strings.Contains(console, want) {
			t.Errorf("console lacks %q", want)
		}
		powerOff(t, m)
		restore()
		checkUntouched(t, d, before)
	})

	// The disk fails reads of the journal's superblock, which e2fsck and
	// the kernel both read (QEMU's blkdebug). Read errors are no verdict
	// on the filesystem: e2fsck -y, which would rewrite unreadable blocks,
	// is not even tried.
	t.Run("disk read errors", func(t *testing.T) {
		t.Parallel()
		d := fresh(t)
		m := bootBlkdebug(t, b, d, journalSector(t, d))
		console := expectDegraded(t, m)
		if !regexp.MustCompile(`DEGRADED var: data partition /dev/vda4: .*(could not read or write the disk|input/output error)`).MatchString(console) {
			t.Errorf("degraded reason does not name the disk error")
		}
		if strings.Contains(console, "trying e2fsck -f -y") {
			t.Errorf("e2fsck -f -y ran on a disk that fails reads")
		}
		powerOff(t, m)
		// e2fsck -p flags a filesystem it could not read as having
		// errors, so the next boot checks it in full; nothing else changed.
		if after := readDataFS(t, d); after != before {
			t.Errorf("data partition after the fault: %+v, want %+v (the first boot's)", after, before)
		}
		if out, err := exec.Command("e2fsck", "-fn", partition(t, d, 4)).CombinedOutput(); err != nil {
			t.Errorf("e2fsck -fn after the fault: %v\n%s", err, out)
		}
	})

	// e2fsck -f -y leaves errors: the only case that recreates. The new
	// filesystem holds e2fsck's report and the old files.
	t.Run("beyond repair", func(t *testing.T) {
		t.Parallel()
		d := fresh(t)
		m := bootFaulty(t, b, d, "exit4")
		kept := expect(t, m, `edgegate: data: RECREATING the filesystem on /dev/vda4: e2fsck -f -y exit 4: fsckfault -f -y /dev/vda4: exit 4 on purpose; kept in /var/(lib/edgegate/recreated-\d+T\d+Z): e2fsck's report, \d+ files`)[1]
		expect(t, m, `edgegate: data: /dev/vda4 mounted on /var \(recreated; e2fsck's report and \d+ salvaged files in /var/`+kept+`\)`)
		expect(t, m, `edgegate: boot count 1\r?\n`)
		expect(t, m, `edgegate: ready version=test slot=a board=qemu-arm64\r?\n`)
		powerdown(t, m)
		part := partition(t, d, 4)
		if report := debugfsCat(t, part, "/"+kept+"/e2fsck.log"); !strings.Contains(report, "=== e2fsck -f -y /dev/vda4: exit 4\nfsckfault -f -y /dev/vda4: exit 4 on purpose") {
			t.Errorf("kept report:\n%s", report)
		}
		if old := debugfsCat(t, part, "/"+kept+"/files/lib/edgegate/boot-count"); old != "1\n" {
			t.Errorf("salvaged boot count %q, want the first boot's", old)
		}
		if after := readDataFS(t, d); after.uuid == before.uuid {
			t.Error("the filesystem was not made again")
		}
	})
}

// bootFaulty boots disk directly with the wrapper following plan.
func bootFaulty(t *testing.T, b boards.Board, disk, plan string) *Machine {
	t.Helper()
	cfg := Config{Board: b, Image: disk, Path: Direct}
	if plan != "" {
		cfg.Append = "edgegate.test.fsck=" + plan
	}
	m, err := Start(context.Background(), cfg)
	must(t, err)
	t.Cleanup(m.Close)
	return m
}

// bootBlkdebug boots disk through QEMU's blkdebug driver, failing every
// read of sector with EIO; the kernel and initramfs come from the image.
func bootBlkdebug(t *testing.T, b boards.Board, img string, sector int64) *Machine {
	t.Helper()
	dir := t.TempDir()
	kernel, initrd := filepath.Join(dir, "kernel"), filepath.Join(dir, "initrd")
	for name, dst := range map[string]string{b.KernelFile: kernel, "initrd": initrd} {
		data, err := disk.ReadFile(img, 2, name)
		must(t, err)
		must(t, os.WriteFile(dst, data, 0o644))
	}
	conf := filepath.Join(dir, "blkdebug.conf")
	must(t, os.WriteFile(conf, fmt.Appendf(nil, "[inject-error]\nevent = \"read_aio\"\niotype = \"read\"\nerrno = \"5\"\nsector = \"%d\"\nonce = \"off\"\n", sector), 0o644))
	m, err := Start(context.Background(), Config{
		Board: b, Path: Kernel, KernelFile: kernel, InitrdFile: initrd, Append: "edgegate.slot=a",
		Extra: []string{"-drive", "if=virtio,format=raw,file=blkdebug:" + conf + ":" + img},
	})
	must(t, err)
	t.Cleanup(m.Close)
	return m
}

// expectDegraded waits for a boot with /var in RAM to finish and returns
// its console: the DEGRADED line, the ready line saying degraded=var, and
// the file init wrote for edgecore, read back by a service.
func expectDegraded(t *testing.T, m *Machine) string {
	t.Helper()
	reason := expect(t, m, `edgegate: DEGRADED var: ([^\r\n]*)\r?\n`)[1]
	t.Logf("degraded: %s", reason)
	// Services start before the network is up, so the service's line
	// and the ready line come in either order.
	expectAnyOrder(t, m,
		`edgegate: ready version=test slot=a board=qemu-arm64 degraded=var\r?\n`,
		`showdegraded: /run/edgegate/degraded/var holds: `+regexp.QuoteMeta(reason)+`\r?\n`)
	console := m.Console.String()
	for _, never := range []string{"RECREATING", "formatting /dev/vda4"} {
		if strings.Contains(console, never) {
			t.Errorf("console shows %q", never)
		}
	}
	if !strings.Contains(console, "boot count: not kept, /var is not the data partition") {
		t.Error("the boot counted itself on a /var in RAM")
	}
	return console
}

// powerOff presses the power key of a gateway whose /var is in RAM: it
// stops as usual, with nothing to unmount.
func powerOff(t *testing.T, m *Machine) {
	t.Helper()
	must(t, m.Powerdown())
	expect(t, m, `edgegate: power off requested by power key`)
	if err := m.Wait(time.Minute); err != nil {
		t.Fatalf("QEMU after power off: %v\n%s", err, tail(m.Console.String(), 3000))
	}
}

// dataFS is what the host reads of the data partition.
type dataFS struct {
	uuid, bootCount string
}

func readDataFS(t *testing.T, disk string) dataFS {
	t.Helper()
	part := partition(t, disk, 4)
	out, err := exec.Command("dumpe2fs", "-h", part).Output()
	must(t, err)
	m := regexp.MustCompile(`(?m)^Filesystem UUID:\s+(\S+)$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("dumpe2fs -h: no UUID:\n%s", out)
	}
	return dataFS{uuid: string(m[1]), bootCount: strings.TrimSpace(debugfsCat(t, part, "/lib/edgegate/boot-count"))}
}

// checkUntouched: the data partition holds the first boot's filesystem,
// clean, with its marker.
func checkUntouched(t *testing.T, disk string, before dataFS) {
	t.Helper()
	if after := readDataFS(t, disk); after != before {
		t.Errorf("data partition after the fault: %+v, want %+v (the first boot's)", after, before)
	}
	checkClean(t, partition(t, disk, 4))
}

// partStart is where partition n of a disk image begins, in bytes.
func partStart(t *testing.T, disk string, n int) int64 {
	t.Helper()
	f, err := os.Open(disk)
	must(t, err)
	defer f.Close()
	mbr := make([]byte, 512)
	_, err = f.ReadAt(mbr, 0)
	must(t, err)
	return int64(binary.LittleEndian.Uint32(mbr[446+16*(n-1)+8:])) * 512
}

// journalSector is the disk sector holding the data filesystem's journal
// superblock (the first block of inode 8).
func journalSector(t *testing.T, disk string) int64 {
	t.Helper()
	part := partition(t, disk, 4)
	out, err := exec.Command("debugfs", "-R", "bmap <8> 0", part).Output()
	must(t, err)
	block, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	must(t, err)
	hdr, err := exec.Command("dumpe2fs", "-h", part).Output()
	must(t, err)
	m := regexp.MustCompile(`(?m)^Block size:\s+(\d+)$`).FindSubmatch(hdr)
	if m == nil {
		t.Fatalf("dumpe2fs -h: no block size:\n%s", hdr)
	}
	bs, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return (partStart(t, disk, 4) + block*bs) / 512
}

// setUnknownFeature sets an incompatible feature flag no kernel knows in
// the data filesystem's superblock (with its checksum updated, so the
// flag is the only complaint) and returns what puts the superblock back.
func setUnknownFeature(t *testing.T, disk string) func() {
	t.Helper()
	const sbSize, incompat, checksum = 1024, 0x60, 0x3fc
	off := partStart(t, disk, 4) + 1024
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	orig := make([]byte, sbSize)
	_, err = f.ReadAt(orig, off)
	must(t, err)
	sb := bytes.Clone(orig)
	flags := binary.LittleEndian.Uint32(sb[incompat:])
	binary.LittleEndian.PutUint32(sb[incompat:], flags|0x80000000)
	// ext4's superblock checksum: crc32c seeded with ~0, not inverted.
	binary.LittleEndian.PutUint32(sb[checksum:], ^crc32.Checksum(sb[:checksum], crc32.MakeTable(crc32.Castagnoli)))
	if want := ^crc32.Checksum(orig[:checksum], crc32.MakeTable(crc32.Castagnoli)); binary.LittleEndian.Uint32(orig[checksum:]) != want {
		t.Fatalf("superblock checksum %#x, computed %#x: the formula is wrong", binary.LittleEndian.Uint32(orig[checksum:]), want)
	}
	_, err = f.WriteAt(sb, off)
	must(t, err)
	return func() {
		f, err := os.OpenFile(disk, os.O_RDWR, 0)
		must(t, err)
		defer f.Close()
		_, err = f.WriteAt(orig, off)
		must(t, err)
	}
}
