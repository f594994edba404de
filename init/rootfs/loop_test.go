package rootfs

import (
	"bytes"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestAttachLoop binds a file to a loop device: the device reads as the
// file, in the block size asked for, and refuses writes.
func TestAttachLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (loop devices)")
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no loop devices here")
	}
	data := make([]byte, 256<<10)
	rand.New(rand.NewSource(1)).Read(data)
	file := filepath.Join(t.TempDir(), "root.img")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	dev, err := attachLoop(file, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if fd, err := unix.Open(dev, unix.O_RDONLY, 0); err == nil {
			unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0)
			unix.Close(fd)
		}
	})
	got, err := os.ReadFile(dev)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%s reads %d bytes (%v), not the file's %d", dev, len(got), err, len(data))
	}
	fd, err := unix.Open(dev, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
	unix.Close(fd)
	if err != nil || bs != 4096 {
		t.Errorf("logical block size %d (%v), want 4096", bs, err)
	}
	if f, err := os.OpenFile(dev, os.O_WRONLY, 0); err == nil {
		_, err = f.Write(data[:4096])
		f.Close()
		if err == nil {
			t.Error("writing the read-only loop device succeeded")
		}
	} else if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EACCES) {
		t.Errorf("opening the loop device for writing: %v, want EROFS", err)
	}
}
