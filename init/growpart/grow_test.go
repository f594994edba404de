package growpart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/image/disk"
)

// The Grow tests write a disk image as the image builder does
// (image/disk), with a small layout, and grow its data partition in the
// file and, as root, through a loop device the kernel partitions, with
// a real ext4 filesystem on it mounted.

// layout is a small edgegate disk: 1 + 3×2 + 32 MiB.
var layout = []int{2, 2, 2, 32}

const (
	layoutBytes = 39 * MiB
	tail        = 4096 // init/datapart's format record
	record      = "EDGEGATE-DATA-FORMAT\nstate: done\n"
)

func diskImage(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "disk.img")
	spec := disk.Spec{DiskID: 0x1234abcd}
	for i, mib := range layout {
		typ := disk.TypeFAT32LBA
		if i == 3 {
			typ = disk.TypeLinux
		}
		spec.Partitions = append(spec.Partitions, disk.Partition{SizeMiB: mib, Type: typ})
	}
	if err := disk.Write(img, spec); err != nil {
		t.Fatal(err)
	}
	return img
}

func readBytes(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func writeBytes(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// sfdiskData is the data partition's start and size in sectors as
// util-linux's sfdisk reads them from the image.
func sfdiskData(t *testing.T, img string) string {
	t.Helper()
	if _, err := exec.LookPath("sfdisk"); err != nil {
		t.Skip("sfdisk not installed")
	}
	out, err := exec.Command("sfdisk", "--dump", img).CombinedOutput()
	if err != nil {
		t.Fatalf("sfdisk --dump: %v\n%s", err, out)
	}
	for l := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(l, img+"4 ") {
			f := strings.Fields(strings.ReplaceAll(l, ",", ""))
			return f[3] + " " + f[5]
		}
	}
	t.Fatalf("sfdisk --dump shows no partition 4:\n%s", out)
	return ""
}

// TestGrowImageFile grows the data partition of disk images of several
// sizes: the table as sfdisk reads it, the tail carried to the new end,
// every other byte of the image as it was, and a second run a no-op.
func TestGrowImageFile(t *testing.T) {
	tests := []struct {
		name    string
		size    int64
		sectors int64 // the data partition's after, as sfdisk reads it
	}{
		{"the image's own size", layoutBytes, 32 * mibSectors},
		{"4 GiB", 4 << 30, (4096 - 7) * mibSectors},
		{"64 GiB", 64 << 30, (65536 - 7) * mibSectors},
		{"an odd size", 5_000_000_000, (4768 - 7) * mibSectors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := diskImage(t)
			dataStart := int64(7 * MiB)
			oldEnd := dataStart + 32*MiB
			writeBytes(t, img, oldEnd-tail, []byte(record))
			writeBytes(t, img, dataStart+1024, []byte("the filesystem's first blocks"))
			before := readBytes(t, img, 0, layoutBytes)
			truncate(t, img, tt.size)

			res, err := Grow(Options{Disk: img, Tail: tail})
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("%d %d", 7*mibSectors, tt.sectors); sfdiskData(t, img) != want {
				t.Errorf("sfdisk reads start and size %q, want %q", sfdiskData(t, img), want)
			}
			grows := tt.sectors > 32*mibSectors
			if res.Wrote != grows || res.NewSectors != tt.sectors || res.Told {
				t.Errorf("result %+v, want wrote=%v, %d sectors, kernel not told", res, grows, tt.sectors)
			}
			after := readBytes(t, img, 0, layoutBytes)
			if grows {
				newEnd := dataStart + tt.sectors*SectorSize
				if got := readBytes(t, img, newEnd-tail, len(record)); string(got) != record {
					t.Errorf("the new end holds %q, want the format record", got)
				}
				// Only the MBR sector differs within the image as built.
				if !bytes.Equal(after[SectorSize:], before[SectorSize:]) {
					t.Error("bytes past the MBR changed")
				}
			} else if !bytes.Equal(after, before) {
				t.Error("a disk with no room to grow was changed")
			}
			again, err := Grow(Options{Disk: img, Tail: tail})
			if err != nil || again.Wrote || again.Grows() {
				t.Errorf("second run: %+v, %v; want nothing to do", again, err)
			}
		})
	}
}

// TestGrowRefusesSmallerDisk: an image cut short (written to a card too
// small for it) is refused and left as it is.
func TestGrowRefusesSmallerDisk(t *testing.T) {
	img := diskImage(t)
	truncate(t, img, layoutBytes-MiB)
	before := readBytes(t, img, 0, layoutBytes-MiB)
	_, err := Grow(Options{Disk: img, Tail: tail})
	if err == nil || !strings.Contains(err.Error(), "larger than the card") {
		t.Fatalf("err = %v, want a refusal saying the image is larger than the card", err)
	}
	if !bytes.Equal(readBytes(t, img, 0, layoutBytes-MiB), before) {
		t.Error("the disk was changed")
	}
}

// loopDisk attaches img as a partitioned loop device and returns it.
func loopDisk(t *testing.T, img string) string {
	t.Helper()
	out, err := exec.Command("losetup", "--partscan", "--find", "--show", img).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup: %v: %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	if !appears(dev + "p4") {
		addPartitions(t, dev)
	}
	if !appears(dev + "p4") {
		t.Fatalf("%sp4 did not appear", dev)
	}
	return dev
}

func appears(path string) bool {
	for range 25 {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// addPartitions adds the partitions of dev's table to the kernel, as its
// partition scan does at boot, for kernels built without the MBR parser
// (as some VM kernels are).
func addPartitions(t *testing.T, dev string) {
	t.Helper()
	table, err := ParseMBR(readBytes(t, dev, 0, SectorSize))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, e := range table.Entries {
		p := unix.BlkpgPartition{Start: int64(e.Start) * SectorSize, Length: int64(e.Sectors) * SectorSize, Pno: int32(i + 1)}
		arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_ADD_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg))); errno != 0 {
			t.Fatalf("adding partition %d of %s: %v", i+1, dev, errno)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mount(t *testing.T, dev string) string {
	t.Helper()
	mnt := t.TempDir()
	run(t, "mount", "-t", "ext4", dev, mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	return mnt
}

// formattedDisk is a disk image whose data partition holds an ext4
// filesystem made as init/datapart makes it (one record short of the
// partition, the record after it) with a file on it.
func formattedDisk(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for loop devices and mounts")
	}
	for _, tool := range []string{"losetup", "mke2fs", "e2fsck"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	img := diskImage(t)
	dev := loopDisk(t, img)
	run(t, "mke2fs", "-q", "-F", "-t", "ext4", "-E", "nodiscard", dev+"p4", fmt.Sprintf("%dk", (32*MiB-tail)/1024))
	writeBytes(t, dev+"p4", 32*MiB-tail, []byte(record))
	mnt := mount(t, dev+"p4")
	if err := os.WriteFile(filepath.Join(mnt, "before"), []byte("written before the grow\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "umount", mnt)
	run(t, "losetup", "-d", dev)
	return img
}

// checkGrown: the filesystem fills the partition but the tail, holds the
// file written before, and is clean.
func checkGrown(t *testing.T, dev string, res FSResult) {
	t.Helper()
	part := partBytes(t, dev)
	if res.NewBytes > part-tail || res.NewBytes < part-tail-MinGrowth {
		t.Errorf("filesystem of %d bytes in a partition of %d: want it to fill all but the %d-byte tail", res.NewBytes, part, tail)
	}
	if size, _, err := FSSize(dev); err != nil || size != res.NewBytes {
		t.Errorf("superblock says %d bytes (%v), GrowFS %d", size, err, res.NewBytes)
	}
	if got := readBytes(t, dev, part-tail, len(record)); string(got) != record {
		t.Errorf("partition ends in %q, want the format record", got)
	}
	mnt := mount(t, dev)
	if b, err := os.ReadFile(filepath.Join(mnt, "before")); err != nil || string(b) != "written before the grow\n" {
		t.Errorf("file written before the grow: %q, %v", b, err)
	}
	run(t, "umount", mnt)
	run(t, "e2fsck", "-fn", dev)
}

// needSysResource skips a test that grows a mounted filesystem where
// the kernel will not let it: online resizing needs CAP_SYS_RESOURCE,
// which containers and some VMs drop even for root (init has it).
func needSysResource(t *testing.T) {
	t.Helper()
	const capSysResource = 24
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if hex, ok := strings.CutPrefix(l, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			if caps&(1<<capSysResource) == 0 {
				t.Skip("no CAP_SYS_RESOURCE: the kernel refuses to grow a mounted filesystem here (the QEMU tests grow it in a gateway)")
			}
			return
		}
	}
}

func partBytes(t *testing.T, dev string) int64 {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.Seek(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestGrowMountedFilesystem grows, on loop devices, the table (the
// kernel told through BLKPG while the disk is in use) and then the
// mounted ext4 filesystem, to 4 GiB and 64 GiB.
func TestGrowMountedFilesystem(t *testing.T) {
	for _, size := range []int64{4 << 30, 64 << 30} {
		t.Run(fmt.Sprintf("%d GiB", size>>30), func(t *testing.T) {
			img := formattedDisk(t)
			truncate(t, img, size)
			dev := loopDisk(t, img)
			// The boot FAT is in use while the table changes.
			busy, err := os.Open(dev + "p1")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			res, err := Grow(Options{Disk: dev, Partition: dev + "p4", Tail: tail})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Wrote || !res.Told || partBytes(t, dev+"p4") != res.NewBytes() {
				t.Fatalf("Grow = %+v; the kernel sees %d bytes", res, partBytes(t, dev+"p4"))
			}
			needSysResource(t)
			mnt := mount(t, dev+"p4")
			fs, err := GrowFS(dev+"p4", mnt, tail)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("grew the filesystem from %d to %d MiB in %v", fs.OldBytes>>20, fs.NewBytes>>20, fs.Took)
			if !fs.Grew() || fs.OldBytes != 32*MiB-tail {
				t.Errorf("GrowFS = %+v, want grown from %d", fs, 32*MiB-tail)
			}
			if again, err := GrowFS(dev+"p4", mnt, tail); err != nil || again.Grew() {
				t.Errorf("second GrowFS = %+v, %v; want nothing to do", again, err)
			}
			run(t, "umount", mnt)
			checkGrown(t, dev+"p4", fs)
		})
	}
}

// TestGrowResumes covers the two points a power cut can leave behind:
// the table written but the kernel never told (the next boot's kernel
// reads the new table, the filesystem is still small), and the
// filesystem grown part of the way (the kernel's journaled steps cut
// short). Both end with the filesystem filling the partition.
func TestGrowResumes(t *testing.T) {
	img := formattedDisk(t)
	truncate(t, img, 4<<30)
	if _, err := Grow(Options{Disk: img, Tail: tail}); err != nil {
		t.Fatal(err)
	}
	dev := loopDisk(t, img) // the "next boot": the kernel reads the new table
	res, err := Grow(Options{Disk: dev, Partition: dev + "p4", Tail: tail})
	if err != nil || res.Wrote || res.Told {
		t.Fatalf("Grow after the table was written = %+v, %v; want nothing to do", res, err)
	}
	needSysResource(t)
	mnt := mount(t, dev+"p4")
	const halfway = 1 << 30
	_, bs, err := FSSize(dev + "p4")
	if err != nil {
		t.Fatal(err)
	}
	if err := resize(mnt, halfway/bs); err != nil {
		t.Fatal(err)
	}
	run(t, "umount", mnt)
	if size, _, _ := FSSize(dev + "p4"); size != halfway {
		t.Fatalf("filesystem of %d bytes after the first step, want %d", size, halfway)
	}
	run(t, "e2fsck", "-fn", dev+"p4")
	mnt = mount(t, dev+"p4")
	fs, err := GrowFS(dev+"p4", mnt, tail)
	if err != nil {
		t.Fatal(err)
	}
	if fs.OldBytes != halfway || !fs.Grew() {
		t.Errorf("GrowFS = %+v, want grown from %d", fs, halfway)
	}
	run(t, "umount", mnt)
	checkGrown(t, dev+"p4", fs)
}
