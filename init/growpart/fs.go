package growpart

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ext4 superblock fields (byte offsets within the superblock, which
// starts 1024 bytes into the partition).
const (
	superblockOffset = 1024
	superblockSize   = 1024
	sbBlocksLo       = 0x04
	sbLogBlockSize   = 0x18
	sbMagic          = 0x38
	sbIncompat       = 0x60
	sbBlocksHi       = 0x150
	ext4Magic        = 0xef53
	incompat64bit    = 0x80
)

// ext4IocResizeFS is EXT4_IOC_RESIZE_FS, _IOW('f', 16, __u64): grow the
// mounted filesystem to the given number of blocks.
const ext4IocResizeFS = 0x40086610

// FSResult is what GrowFS did.
type FSResult struct {
	OldBytes, NewBytes int64 // the filesystem's size before and after
	Took               time.Duration
}

// Grew is whether the filesystem grew.
func (r FSResult) Grew() bool { return r.NewBytes > r.OldBytes }

// FSSize reads the size of the ext4 filesystem on dev, in bytes, and its
// block size.
func FSSize(dev string) (size, blockSize int64, err error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, 0, fmt.Errorf("filesystem size: %w", err)
	}
	defer f.Close()
	return fsSize(f, dev)
}

func fsSize(r io.ReaderAt, dev string) (size, blockSize int64, err error) {
	sb := make([]byte, superblockSize)
	if _, err := r.ReadAt(sb, superblockOffset); err != nil {
		return 0, 0, fmt.Errorf("filesystem size: reading the superblock of %s: %w", dev, err)
	}
	if binary.LittleEndian.Uint16(sb[sbMagic:]) != ext4Magic {
		return 0, 0, fmt.Errorf("filesystem size: %s holds no ext4 superblock", dev)
	}
	blocks := int64(binary.LittleEndian.Uint32(sb[sbBlocksLo:]))
	if binary.LittleEndian.Uint32(sb[sbIncompat:])&incompat64bit != 0 {
		blocks |= int64(binary.LittleEndian.Uint32(sb[sbBlocksHi:])) << 32
	}
	blockSize = 1024 << binary.LittleEndian.Uint32(sb[sbLogBlockSize:])
	return blocks * blockSize, blockSize, nil
}

// GrowFS grows the ext4 filesystem on dev, mounted on mnt, to fill its
// partition but the last tail bytes, when that adds at least MinGrowth:
// after the partition grew (Grow), or after a boot that grew it was cut
// before the filesystem followed. The kernel grows it online in
// journaled steps; a cut in the middle leaves a smaller, consistent
// filesystem that the next boot grows again. It never shrinks.
func GrowFS(dev, mnt string, tail int64) (FSResult, error) {
	f, err := os.Open(dev)
	if err != nil {
		return FSResult{}, fmt.Errorf("growing the filesystem: %w", err)
	}
	defer f.Close()
	part, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return FSResult{}, fmt.Errorf("growing the filesystem: size of %s: %w", dev, err)
	}
	old, bs, err := fsSize(f, dev)
	if err != nil {
		return FSResult{}, err
	}
	res := FSResult{OldBytes: old, NewBytes: old}
	target := (part - tail) / bs
	if target*bs-old < MinGrowth {
		return res, nil
	}
	began := time.Now()
	if err := resize(mnt, target); err != nil {
		return res, fmt.Errorf("growing the filesystem on %s from %d to %d MiB: %w", dev, old>>20, target*bs>>20, err)
	}
	res.Took = time.Since(began)
	// The kernel may leave out a last block group too small for its own
	// metadata: the superblock says what it became.
	if res.NewBytes, _, err = fsSize(f, dev); err != nil {
		return res, err
	}
	return res, nil
}

// resize asks the kernel to grow the filesystem mounted on mnt to blocks.
func resize(mnt string, blocks int64) error {
	d, err := os.Open(mnt)
	if err != nil {
		return err
	}
	defer d.Close()
	n := uint64(blocks)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, d.Fd(), ext4IocResizeFS, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return fmt.Errorf("EXT4_IOC_RESIZE_FS: %w", errno)
	}
	return nil
}
