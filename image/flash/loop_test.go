package flash

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFlashLoop: an image flashed to a loop device over a file of
// garbage lands in the file, zeros included; flashed again, the zeros
// the device now holds are skipped and the rest rewritten.
func TestFlashLoop(t *testing.T) {
	dev, backing := loopDevice(t, 8<<20, 0xa5)
	img := testImage(6<<20+512, 5)
	image := writeImage(t, t.TempDir(), img, "zstd")
	res, err := Flash(context.Background(), Options{Image: image, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	got := content(t, backing)
	if !bytes.Equal(got[:len(img)], img) || !bytes.Equal(got[len(img):], bytes.Repeat([]byte{0xa5}, len(got)-len(img))) {
		t.Fatal("the loop device's file does not hold the image followed by what was there")
	}
	if res.Skipped != 0 || !res.Direct {
		t.Errorf("first flash over garbage: skipped %d, direct %v; want 0, true", res.Skipped, res.Direct)
	}
	res, err = Flash(context.Background(), Options{Image: image, Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped == 0 || res.Written == 0 || res.Written+res.Skipped != int64(len(img)) {
		t.Errorf("second flash: wrote %d, skipped %d; want the zero runs skipped", res.Written, res.Skipped)
	}
}

// TestFlashLoopTooLarge: an image larger than the device is refused
// before a byte is written.
func TestFlashLoopTooLarge(t *testing.T) {
	dev, backing := loopDevice(t, 4<<20, 0xa5)
	for _, format := range []string{"raw", "zstd"} { // zstd: the size is only known once decompressed
		t.Run(format, func(t *testing.T) {
			image := writeImage(t, t.TempDir(), testImage(4<<20+4096, 6), format)
			flashErr(t, Options{Image: image, Device: dev}, ErrTooLarge, "holds 4.0 MiB (4194304 bytes)")
			if !bytes.Equal(content(t, backing), bytes.Repeat([]byte{0xa5}, 4<<20)) {
				t.Error("the device was written")
			}
		})
	}
}

// TestFlashLoopMounted: a loop device with a mounted partition is
// refused, and so is the partition itself.
func TestFlashLoopMounted(t *testing.T) {
	dev, backing := loopDevice(t, 16<<20, 0, "-P")
	run(t, "sh", "-c", fmt.Sprintf("echo 'start=2048, type=83' | sfdisk --quiet %s", dev))
	exec.Command("partx", "-a", dev).Run() // where the kernel did not rescan on its own
	part := dev + "p1"
	if _, err := os.Stat(part); err != nil {
		t.Skipf("no partition device %s after losetup -P: %v", part, err)
	}
	run(t, "mkfs.ext4", "-q", part)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", part, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount ext4 here: %v: %s", err, out)
	}
	t.Cleanup(func() { run(t, "umount", mnt) })
	before := content(t, backing)
	image := writeImage(t, t.TempDir(), testImage(1<<20, 7), "raw")
	flashErr(t, Options{Image: image, Device: dev}, ErrMounted, part+" is mounted on "+mnt)
	flashErr(t, Options{Image: image, Device: part}, ErrPartition, "partition of "+dev)
	if !bytes.Equal(content(t, backing), before) {
		t.Error("the device was written")
	}
}

// TestFlashLoopRefused: a read-only loop device, and one that sysfs is
// made to call a fixed disk, which --force allows.
func TestFlashLoopRefused(t *testing.T) {
	image := writeImage(t, t.TempDir(), testImage(1<<20, 7), "raw")
	ro, roBacking := loopDevice(t, 4<<20, 0xa5, "-r")
	flashErr(t, Options{Image: image, Device: ro}, ErrPermission, ro+" is read-only")
	if !bytes.Equal(content(t, roBacking), bytes.Repeat([]byte{0xa5}, 4<<20)) {
		t.Error("the read-only device was written")
	}

	fixed, fixedBacking := loopDevice(t, 4<<20, 0xa5)
	host := fakeHost(t, fixedDisk(t, fixed))
	flashErr(t, Options{Image: image, Device: fixed, Host: host}, ErrNotRemovable, "pass --force")
	if !bytes.Equal(content(t, fixedBacking), bytes.Repeat([]byte{0xa5}, 4<<20)) {
		t.Error("the fixed disk was written")
	}
	if _, err := Flash(context.Background(), Options{Image: image, Device: fixed, Host: host, Force: true}); err != nil {
		t.Errorf("--force on a fixed disk: %v", err)
	}
}

// TestFlashSystemDisk: the disk holding / is refused, even forced.
func TestFlashSystemDisk(t *testing.T) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		t.Fatal(err)
	}
	h := RealHost()
	dir, err := h.blockDir(st.Dev)
	if err != nil {
		t.Skipf("/ is not on a block device (%d:%d): %v", unix.Major(st.Dev), unix.Minor(st.Dev), err)
	}
	if isFile(filepath.Join(dir, "partition")) {
		dir = filepath.Dir(dir)
	}
	disk := "/dev/" + filepath.Base(dir)
	if _, err := os.Stat(disk); err != nil {
		t.Skipf("no device node for the system disk: %v", err)
	}
	image := writeImage(t, t.TempDir(), testImage(1<<20, 8), "raw")
	flashErr(t, Options{Image: image, Device: disk, Force: true}, ErrSystemDisk, "holds /")
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}
