// Package flash writes a disk image to an SD card, a USB drive, a loop
// device or a file, the way a card for a gateway must be written: it
// refuses a device that is mounted, holds the running system or is a
// fixed disk (unless forced), checks the image fits before writing a
// byte, streams a compressed image, skips runs of zeros only where the
// device already reads back zeros, syncs, and reads the image's length
// back from the medium to compare its sha256.
package flash

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// The reasons a flash is refused or fails, for errors.Is.
var (
	ErrMounted      = errors.New("device in use")
	ErrSystemDisk   = errors.New("device holds the running system")
	ErrNotRemovable = errors.New("not a removable disk")
	ErrPartition    = errors.New("target is a partition")
	ErrTooLarge     = errors.New("image larger than the device")
	ErrPermission   = errors.New("permission denied")
	ErrIO           = errors.New("I/O error")
	ErrReadBack     = errors.New("read-back mismatch")
)

// Phase is the step a progress report is about.
type Phase string

// The phases of a flash, in order; PhaseMeasure only for a compressed
// image (its size is known once it was decompressed).
const (
	PhaseMeasure Phase = "reading image"
	PhaseWrite   Phase = "writing"
	PhaseVerify  Phase = "verifying"
)

// Options say what to flash where.
type Options struct {
	// Image is the disk image: raw, or compressed by gzip, xz or zstd.
	Image string
	// Device is a block device (the whole disk) or a regular file.
	Device string
	// Force allows a fixed (non-removable) disk. It never allows a
	// mounted one or the one holding the running system.
	Force bool
	// Progress, when set, is called as each phase moves on; done and
	// total are bytes (of the compressed file in PhaseMeasure).
	Progress func(p Phase, done, total int64)
	// Host is where the device checks look; the zero value is the real
	// system.
	Host Host

	// beforeReadBack runs between the sync and the read-back, for tests
	// that change the target behind the writer's back.
	beforeReadBack func(path string) error
}

// Result is what a flash did.
type Result struct {
	// Size and SHA256 are the disk image's (decompressed).
	Size   int64
	SHA256 string
	// Written bytes went to the device; Skipped bytes were zeros the
	// device already held.
	Written, Skipped int64
	// Direct is whether the writes bypassed the page cache (O_DIRECT).
	Direct bool
	// WriteTime covers writing and syncing; VerifyTime the read-back.
	WriteTime, VerifyTime time.Duration
}

// Flash writes o.Image to o.Device and verifies it.
func Flash(ctx context.Context, o Options) (Result, error) {
	if o.Host.Sys == "" {
		o.Host = RealHost()
	}
	src, err := openSource(o.Image)
	if err != nil {
		return Result{}, err
	}
	device, err := o.checkTarget(src)
	if err != nil {
		return Result{}, err
	}
	if src.compressed() {
		if err := src.measure(ctx, o.progress(PhaseMeasure)); err != nil {
			return Result{}, err
		}
	}
	t, err := openTarget(o.Device, device)
	if err != nil {
		return Result{}, err
	}
	defer t.Close()
	if t.device && src.size > t.capacity {
		return Result{}, fmt.Errorf("%w: the image is %s (%d bytes), %s holds %s (%d bytes)",
			ErrTooLarge, human(src.size), src.size, o.Device, human(t.capacity), t.capacity)
	}
	res := Result{Size: src.size, Direct: t.direct != nil}
	start := time.Now()
	if err := o.write(ctx, src, t, &res); err != nil {
		return res, err
	}
	res.WriteTime = time.Since(start)
	if o.beforeReadBack != nil {
		if err := o.beforeReadBack(o.Device); err != nil {
			return res, err
		}
	}
	start = time.Now()
	if err := o.verify(ctx, t, res); err != nil {
		return res, err
	}
	res.VerifyTime = time.Since(start)
	return res, nil
}

// checkTarget refuses an unsafe device and reports whether the target
// is a block device.
func (o Options) checkTarget(src *source) (bool, error) {
	st, err := os.Stat(o.Device)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // a new file, created by openTarget
	}
	if err != nil {
		return false, openError(o.Device, err)
	}
	if img, err := os.Stat(src.path); err == nil && os.SameFile(img, st) {
		return false, fmt.Errorf("%s is the image itself", o.Device)
	}
	if st.Mode().IsRegular() {
		return false, nil
	}
	rdev, ok := rdevOf(st)
	if !ok {
		return false, fmt.Errorf("%s is neither a block device nor a regular file", o.Device)
	}
	if err := o.Host.checkDevice(o.Device, rdev, o.Force); err != nil {
		return false, err
	}
	return true, nil
}

func (o Options) progress(p Phase) func(done, total int64) {
	if o.Progress == nil {
		return nil
	}
	return func(done, total int64) { o.Progress(p, done, total) }
}

// human is a size as people read it on a card's label.
func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}
