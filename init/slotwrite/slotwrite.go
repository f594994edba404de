// Package slotwrite writes an update's slot image into the slot the
// gateway is not running, the way an update must: the slot state marks
// the target invalid before its first byte is written (the bootloader
// never boots a half-written slot), the image streams through without
// being held in memory, the device is fsynced and read back from the
// medium, and only an image whose read-back sha256 matches is put on
// trial for the next boot.
package slotwrite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// The reasons a write is refused or fails, for errors.Is.
var (
	// ErrRunningSlot: the target is the running slot or its device.
	ErrRunningSlot = errors.New("target is the running slot")
	// ErrTooLarge: the image does not fit the target partition.
	ErrTooLarge = errors.New("image larger than the slot partition")
	// ErrReadBack: what the partition holds after the write is not the
	// image.
	ErrReadBack = errors.New("read-back mismatch")
)

// State is the slot state transitions a write drives;
// *slotstate.Store is the real one.
type State interface {
	// Invalidate marks target unbootable; called before its first byte
	// is written.
	Invalidate(target slotstate.Slot) (slotstate.State, error)
	// Trial makes target the slot the next boot tries, once; called
	// only after the written image was read back and matched.
	Trial(target slotstate.Slot) (slotstate.State, error)
}

// Options name the slots and where they are.
type Options struct {
	State           State
	Running, Target slotstate.Slot
	// RunningDevice and TargetDevice are the slots' partitions (block
	// devices; plain files in tests). The running one is only compared
	// with the target, never opened.
	RunningDevice, TargetDevice string
	// Progress, when set, is called as the image is written.
	Progress func(written, total int64)
}

// Image is a slot image to write: a stream of Size bytes whose sha256 is
// SHA256 (hex).
type Image struct {
	R      io.Reader
	Size   int64
	SHA256 string
}

// FromBundle is the image a verified bundle carries.
func FromBundle(r *bundle.Reader) Image {
	m := r.Manifest()
	return Image{R: r, Size: m.ImageSize, SHA256: m.ImageSHA256}
}

// chunk is the write size: large enough for an SD card's erase blocks,
// small enough to keep memory flat.
const chunk = 1 << 20

// Write writes img into the target slot and puts it on trial. On any
// error after the target was invalidated it stays invalid: the running
// slot keeps booting, and the update can be retried.
func Write(ctx context.Context, o Options, img Image) error {
	return write(ctx, o, img, nil)
}

// write is Write with a hook run between the fsync and the read-back,
// for tests that change the partition behind the writer's back.
func write(ctx context.Context, o Options, img Image, beforeReadBack func(*os.File) error) error {
	if err := o.checkSlots(); err != nil {
		return err
	}
	f, err := os.OpenFile(o.TargetDevice, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("slot %s: %w", o.Target, err)
	}
	defer f.Close()
	capacity, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("slot %s: size of %s: %w", o.Target, o.TargetDevice, err)
	}
	if img.Size <= 0 || img.Size > capacity {
		return fmt.Errorf("%w: %d bytes for slot %s's %d (%s)", ErrTooLarge, img.Size, o.Target, capacity, o.TargetDevice)
	}
	if _, err := o.State.Invalidate(o.Target); err != nil {
		return fmt.Errorf("slot %s: marking it invalid before writing: %w", o.Target, err)
	}
	if err := o.copy(ctx, f, img); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("slot %s: fsync %s: %w", o.Target, o.TargetDevice, err)
	}
	if beforeReadBack != nil {
		if err := beforeReadBack(f); err != nil {
			return err
		}
	}
	if err := readBack(f, img); err != nil {
		return fmt.Errorf("slot %s (%s): %w", o.Target, o.TargetDevice, err)
	}
	if _, err := o.State.Trial(o.Target); err != nil {
		return fmt.Errorf("slot %s: putting it on trial: %w", o.Target, err)
	}
	return nil
}

// checkSlots refuses a target that is, by name or by device, the running
// slot.
func (o Options) checkSlots() error {
	if o.Target == o.Running {
		return fmt.Errorf("%w: slot %s", ErrRunningSlot, o.Target)
	}
	if o.TargetDevice == o.RunningDevice {
		return fmt.Errorf("%w: slot %s's device %s is the running slot's", ErrRunningSlot, o.Target, o.TargetDevice)
	}
	target, err := os.Stat(o.TargetDevice)
	if err != nil {
		return fmt.Errorf("slot %s: %w", o.Target, err)
	}
	running, err := os.Stat(o.RunningDevice)
	if err != nil {
		return fmt.Errorf("running slot %s: %w", o.Running, err)
	}
	if os.SameFile(target, running) || sameDevice(target, running) {
		return fmt.Errorf("%w: %s and %s are the same partition", ErrRunningSlot, o.TargetDevice, o.RunningDevice)
	}
	return nil
}

// sameDevice reports whether two device nodes name one device (two nodes
// made for one partition are different files).
func sameDevice(a, b os.FileInfo) bool {
	dev := os.ModeDevice
	if a.Mode()&dev == 0 || b.Mode()&dev == 0 {
		return false
	}
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	return okA && okB && sa.Rdev == sb.Rdev
}

// copy streams the image to the start of f, a chunk at a time. It reads
// the source to its end even once Size bytes are written, so a source
// that checks itself at the end (bundle.Reader) gets to.
func (o Options) copy(ctx context.Context, f *os.File, img Image) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("slot %s: %w", o.Target, err)
	}
	buf := make([]byte, chunk)
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("slot %s: write stopped after %d of %d bytes: %w", o.Target, written, img.Size, err)
		}
		n, rerr := img.R.Read(buf)
		if written+int64(n) > img.Size {
			return fmt.Errorf("%w: the image goes on past its %d bytes", ErrTooLarge, img.Size)
		}
		if _, err := f.Write(buf[:n]); err != nil {
			return fmt.Errorf("slot %s: writing %s at %d: %w", o.Target, o.TargetDevice, written, err)
		}
		written += int64(n)
		if o.Progress != nil && n > 0 {
			o.Progress(written, img.Size)
		}
		switch {
		case rerr == io.EOF && written == img.Size:
			return nil
		case rerr == io.EOF:
			return fmt.Errorf("slot %s: the image ended after %d of %d bytes", o.Target, written, img.Size)
		case rerr != nil:
			return fmt.Errorf("slot %s: image: %w", o.Target, rerr)
		}
	}
}

// readBack reads the image's length back from the medium and compares its
// sha256. The page cache is dropped first: a read served from the pages
// just written would check memory, not the card.
func readBack(f *os.File, img Image) error {
	if err := unix.Fadvise(int(f.Fd()), 0, img.Size, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("dropping the written pages before the read-back: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, img.Size), make([]byte, chunk))
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	if n != img.Size {
		return fmt.Errorf("%w: read back %d of %d bytes", ErrReadBack, n, img.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != img.SHA256 {
		return fmt.Errorf("%w: read back sha256 %s, the image's is %s", ErrReadBack, sum, img.SHA256)
	}
	return nil
}
