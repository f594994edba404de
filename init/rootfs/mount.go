// Package rootfs brings up a slot's read-only root: the initramfs mounts
// the slot's FAT partition, binds the root image file to a loop device,
// puts a dm-verity target on it (the root hash comes from the initramfs,
// see Spec) and mounts the filesystem read-only, then switches to it.
// While the gateway runs, every block read is checked by the kernel;
// Check reads every block once more and reports corruption the boot's
// reads did not touch.
package rootfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/dm"
)

// DMName is the device-mapper name of the verified root.
const DMName = "edgegate-root"

// slotMount is where the initramfs mounts the slot's FAT partition while
// it binds the image file; it is detached again once the loop device
// holds the file.
const slotMount = "/slot"

// CorruptError says that the slot's root image does not match its root
// hash: the slot is bad and must not be run.
type CorruptError struct {
	Slot string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("root image of slot %s is corrupt: %v", e.Slot, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Root is a mounted root image.
type Root struct {
	Spec Spec
	Slot string
	Loop string // the loop device over the image file
	// DirectIO is whether the loop device reads the file past the FAT's
	// page cache.
	DirectIO bool
	Device   dm.Device // the verified device mounted
	Target   string    // where it is mounted
	// ctl stays open (close-on-exec) so that dm-verity's verdict can be
	// read when a read fails, even once /dev is gone.
	ctl *dm.Control
}

// Mount mounts the root image of slot from its FAT partition read-only
// at target, through dm-verity. An image that is not the one the spec
// describes (its size, or a block the mount reads failing verification)
// is a *CorruptError.
func Mount(spec Spec, slot, partition, target string) (Root, error) {
	r := Root{Spec: spec, Slot: slot, Target: target}
	if err := os.MkdirAll(slotMount, 0o700); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	ro := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount(partition, slotMount, "vfat", ro, ""); err != nil {
		return r, fmt.Errorf("root: mounting slot %s (%s): %w", slot, partition, err)
	}
	// The loop device keeps the file, and so the FAT, open; nothing else
	// needs the partition mounted.
	defer unix.Unmount(slotMount, unix.MNT_DETACH)
	file := filepath.Join(slotMount, spec.File)
	st, err := os.Stat(file)
	if err != nil {
		return r, &CorruptError{Slot: slot, Err: fmt.Errorf("%s on %s: %w", spec.File, partition, err)}
	}
	if st.Size() != spec.Size {
		return r, &CorruptError{Slot: slot, Err: fmt.Errorf("%s is %d bytes, the initramfs expects %d", spec.File, st.Size(), spec.Size)}
	}
	if r.Loop, err = attachLoop(file, spec.Verity.BlockSize); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	r.DirectIO = directIO(r.Loop)
	if r.ctl, err = dm.OpenControl(); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	v := spec.Verity
	r.Device, err = r.ctl.Create(DMName, dm.Target{Length: uint64(v.Sectors()), Type: "verity", Params: v.Table(r.Loop)}, true)
	if err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	if err := waitNode(r.Device.Path()); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return r, fmt.Errorf("root: %w", err)
	}
	if err := unix.Mount(r.Device.Path(), target, spec.FSType, unix.MS_RDONLY|unix.MS_NODEV, ""); err != nil {
		return r, r.Failed(fmt.Errorf("mounting %s (%s): %w", r.Device.Path(), spec.FSType, err))
	}
	return r, nil
}

// Failed turns the failure of something that read the root into a
// *CorruptError when dm-verity has refused a block; any other failure is
// the root's all the same.
func (r Root) Failed(err error) error {
	if r.ctl != nil {
		if st, serr := r.ctl.Status(DMName); serr == nil && st == "C" {
			return &CorruptError{Slot: r.Slot, Err: fmt.Errorf("%w; dm-verity refused a block that does not match the root hash", err)}
		}
	}
	return fmt.Errorf("root: %w", err)
}

// Warm reads the file p of the mounted root (a path inside it) whole:
// every block of it is checked now, and its pages are in the cache when
// it runs. For the root's init: a block that failed verification while
// it runs would kill PID 1 (SIGBUS), and the kernel would panic instead
// of saying what is wrong.
func (r Root) Warm(p string) error {
	f, err := os.Open(filepath.Join(r.Target, p))
	if err != nil {
		return r.Failed(err)
	}
	defer f.Close()
	if _, err := io.CopyBuffer(io.Discard, f, make([]byte, 1<<20)); err != nil {
		return r.Failed(fmt.Errorf("reading %s: %w", p, err))
	}
	return nil
}

// Corrupted reports whether dm-verity has refused a block of the root
// (one that does not match its hash) since the device was set up.
func Corrupted() (bool, error) {
	st, err := dm.Status(DMName)
	if err != nil {
		return false, err
	}
	return st == "C", nil
}

func waitNode(path string) error {
	deadline := time.Now().Add(nodeWait)
	for {
		_, err := os.Stat(path)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}
