package rootfs

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// checkChunk is how much Check reads at a time: small, so that the
// hashing each read sets off in the kernel (at its own priority) is short.
const checkChunk = 128 << 10

// RootDevice returns the node of the device mounted on /, which must be
// the verified root (the dm-verity device DMName).
func RootDevice() (string, error) {
	var st unix.Stat_t
	if err := unix.Stat("/", &st); err != nil {
		return "", fmt.Errorf("root: %w", err)
	}
	sys := fmt.Sprintf("/sys/dev/block/%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	name, err := os.ReadFile(sys + "/dm/name")
	if err != nil || strings.TrimSpace(string(name)) != DMName {
		return "", fmt.Errorf("root: / is not on the verified root image (%s/dm/name: %q, %v)", sys, strings.TrimSpace(string(name)), err)
	}
	return fmt.Sprintf("/dev/dm-%d", unix.Minor(st.Dev)), nil
}

// ReadSoFar is how many bytes have been read from the device dev (say
// /dev/dm-0) since it was set up: what dm-verity has checked.
func ReadSoFar(dev string) (int64, error) {
	name := strings.TrimPrefix(dev, "/dev/")
	b, err := os.ReadFile("/sys/class/block/" + name + "/stat")
	if err != nil {
		return 0, fmt.Errorf("root: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, fmt.Errorf("root: %s stat: %q", name, b)
	}
	sectors, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("root: %s stat: sectors read %q: %w", name, f[2], err)
	}
	return sectors * 512, nil
}

// CheckReport says how much Check read and how long it took.
type CheckReport struct {
	Bytes    int64
	Duration time.Duration
}

// Check reads every block of the verified root device dev once, past the
// page cache, so that dm-verity checks each against the root hash, also
// those nothing has read yet. It runs at idle CPU priority: it takes only
// time nothing else wants. A block that fails the check is a
// *CorruptError naming it.
func Check(ctx context.Context, dev, slot string) (CheckReport, error) {
	// The thread's priority is changed for good; locked and never
	// unlocked, it ends with this goroutine instead of returning to the
	// runtime's pool at idle priority.
	runtime.LockOSThread()
	attr := unix.SchedAttr{Size: uint32(unsafe.Sizeof(unix.SchedAttr{})), Policy: unix.SCHED_IDLE}
	if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
		return CheckReport{}, fmt.Errorf("root check: idle priority: %w", err)
	}
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if err != nil {
		return CheckReport{}, fmt.Errorf("root check: %s: %w", dev, err)
	}
	defer unix.Close(fd)
	// O_DIRECT wants a buffer aligned to the block size: a fresh mapping
	// is page-aligned.
	buf, err := unix.Mmap(-1, 0, checkChunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return CheckReport{}, fmt.Errorf("root check: %w", err)
	}
	defer unix.Munmap(buf)
	start := time.Now()
	var off int64
	for {
		if err := ctx.Err(); err != nil {
			return CheckReport{Bytes: off, Duration: time.Since(start)}, err
		}
		n, err := unix.Pread(fd, buf, off)
		if err != nil {
			return CheckReport{Bytes: off, Duration: time.Since(start)}, readFailure(fd, dev, slot, off, len(buf), err)
		}
		if n == 0 {
			return CheckReport{Bytes: off, Duration: time.Since(start)}, nil
		}
		off += int64(n)
	}
}

// readFailure finds the block of a failed read and says whether dm-verity
// refused it (corruption) or the read failed for another reason.
func readFailure(fd int, dev, slot string, off int64, size int, readErr error) error {
	bad, serr := Corrupted()
	if serr != nil || !bad {
		return fmt.Errorf("root check: reading %s at byte %d: %w", dev, off, readErr)
	}
	block := make([]byte, 4096)
	if b, err := unix.Mmap(-1, 0, len(block), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE); err == nil {
		defer unix.Munmap(b)
		block = b
	}
	at := off
	for ; at < off+int64(size); at += int64(len(block)) {
		if _, err := unix.Pread(fd, block, at); err != nil {
			break
		}
	}
	return &CorruptError{Slot: slot, Err: fmt.Errorf("data block %d (byte %d of the filesystem) does not match the root hash: %w",
		at/int64(len(block)), at, readErr)}
}
