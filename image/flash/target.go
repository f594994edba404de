package flash

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// align is what O_DIRECT transfers are aligned to: the largest logical
// block size in use (4 KiB sectors); 512-byte devices accept it too.
const align = 4096

// target is the device or file being flashed, open twice: with O_DIRECT
// for the bulk of the transfer (when the target allows it) and through
// the page cache for an unaligned tail and fsync.
type target struct {
	path     string
	direct   *os.File // nil when the target refuses O_DIRECT (tmpfs)
	plain    *os.File
	device   bool
	capacity int64 // a device's size; a file grows to fit the image
}

// openTarget opens path for writing. A block device is opened O_EXCL,
// which the kernel refuses while it is mounted or held by another
// program. A missing regular file is created, except under /dev, where
// a missing name is a mistyped device, not a file to create.
func openTarget(path string, device bool) (*target, error) {
	flags := os.O_RDWR
	if device {
		flags |= unix.O_EXCL
	} else if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		if strings.HasPrefix(filepath.Clean(path), "/dev/") {
			return nil, fmt.Errorf("%s: no such device", path)
		}
		flags |= os.O_CREATE
	}
	plain, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, openError(path, err)
	}
	t := &target{path: path, plain: plain, device: device}
	if device {
		size, err := unix.IoctlGetUint64(int(plain.Fd()), unix.BLKGETSIZE64)
		if err != nil {
			plain.Close()
			return nil, fmt.Errorf("%s: reading its size: %w", path, err)
		}
		t.capacity = int64(size)
		// A read-only device (a card's write-protect switch) opens for
		// writing but fails the first write.
		if ro, err := unix.IoctlGetInt(int(plain.Fd()), unix.BLKROGET); err == nil && ro != 0 {
			plain.Close()
			return nil, fmt.Errorf("%w: %s is read-only (the card's or adapter's write-protect switch, or set read-only)", ErrPermission, path)
		}
	}
	direct, err := os.OpenFile(path, os.O_RDWR|unix.O_DIRECT, 0)
	switch {
	case err == nil:
		t.direct = direct
	case errors.Is(err, syscall.EINVAL): // the file system has no O_DIRECT
	default:
		plain.Close()
		return nil, openError(path, err)
	}
	return t, nil
}

// openError names the usual reasons a target cannot be opened.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %s cannot be opened for writing (%v): run as root, or as a member of the device's group (often 'disk'); a file must be writable and not immutable", ErrPermission, path, unwrapErrno(err))
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%w: %s is read-only (write-protect switch on the card or adapter, or a read-only file system)", ErrPermission, path)
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("%w: %s is in use (mounted, or held by another program)", ErrMounted, path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such device or file", path)
	}
	return fmt.Errorf("opening %s: %w", path, err)
}

// ioError names a failed transfer: the offset, and what the errno
// usually means for a card.
func ioError(op, path string, off int64, err error) error {
	hint, kind := "", ErrIO
	switch {
	case errors.Is(err, syscall.ENOSPC):
		hint = ": no space left on the file system holding it"
	case errors.Is(err, syscall.EIO):
		hint = ": the device failed the transfer (a worn or failing card, or one pulled out)"
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		hint = ": the device is gone (removed)"
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		hint, kind = ": the device is read-only (write-protect switch)", ErrPermission
	}
	return fmt.Errorf("%w: %s %s at offset %d: %v%s", kind, op, path, off, unwrapErrno(err), hint)
}

func unwrapErrno(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

func (t *target) Close() error {
	if t.direct != nil {
		t.direct.Close()
	}
	return t.plain.Close()
}

// split is how many of n bytes go through the O_DIRECT descriptor; the
// rest (an image whose size is not a multiple of 4 KiB) through the
// plain one. Offsets are always multiples of the chunk size.
func (t *target) split(n int) int {
	if t.direct == nil {
		return 0
	}
	return n &^ (align - 1)
}

// writeAt writes b (from an aligned buffer) at off.
func (t *target) writeAt(b []byte, off int64) error {
	d := t.split(len(b))
	if d > 0 {
		if _, err := t.direct.WriteAt(b[:d], off); err != nil {
			return ioError("writing", t.path, off, err)
		}
	}
	if d < len(b) {
		if _, err := t.plain.WriteAt(b[d:], off+int64(d)); err != nil {
			return ioError("writing", t.path, off+int64(d), err)
		}
	}
	return nil
}

// readAt fills b (an aligned buffer) from off.
func (t *target) readAt(b []byte, off int64) error {
	d := t.split(len(b))
	if d > 0 {
		if _, err := t.direct.ReadAt(b[:d], off); err != nil {
			return ioError("reading", t.path, off, err)
		}
	}
	if d < len(b) {
		if _, err := t.plain.ReadAt(b[d:], off+int64(d)); err != nil {
			return ioError("reading", t.path, off+int64(d), err)
		}
	}
	return nil
}

// sync makes the written bytes durable: O_DIRECT bypasses the page
// cache, not the device's own write cache, so both descriptors are
// fsynced.
func (t *target) sync() error {
	if t.direct != nil {
		if err := t.direct.Sync(); err != nil {
			return ioError("syncing", t.path, 0, err)
		}
	}
	if err := t.plain.Sync(); err != nil {
		return ioError("syncing", t.path, 0, err)
	}
	return nil
}

// dropCache forgets the target's cached pages so the read-back reads
// the medium, not memory.
func (t *target) dropCache(size int64) error {
	if err := unix.Fadvise(int(t.plain.Fd()), 0, size, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("%s: dropping cached pages before the read-back: %w", t.path, err)
	}
	return nil
}

// alignedBuffer is an n-byte buffer whose start is aligned for O_DIRECT.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+align)
	off := (align - int(uintptr(unsafe.Pointer(&b[0]))&(align-1))) & (align - 1)
	return b[off : off+n]
}
