package growpart

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Options says which disk's data partition to grow.
type Options struct {
	// Disk is the whole disk (/dev/vda, /dev/mmcblk0) or a disk image.
	Disk string
	// Partition is the data partition's device (/dev/vda4), whose size the
	// kernel is told; empty for a disk image, which has no kernel view.
	Partition string
	// Tail is how many bytes at the partition's end move with it: the
	// data partition keeps its format record there (init/datapart), which
	// must be found at the end of the grown partition too.
	Tail int64
	// Sysfs is where sysfs is mounted; empty means /sys.
	Sysfs string
}

// Result is what Grow did.
type Result struct {
	Plan
	// Wrote is whether the table was written; Told whether the kernel
	// was told a new size of the partition (in this boot, also after a
	// table an earlier boot wrote but could not tell the kernel about).
	Wrote, Told bool
}

// Grow grows the data partition to the end of the disk when there is
// room (see PlanGrowth), in an order a power cut cannot hurt:
//
//  1. The partition's last Tail bytes are copied to the new end, synced.
//     That spot is beyond every partition yet: a cut here changes nothing.
//  2. The MBR sector is written with the new length, synced. A cut
//     before the sector reaches the medium leaves the old table (the
//     next boot does it again); after, the new one. Either table is
//     valid: only the data partition's length differs. This relies on
//     the card writing a 512-byte sector whole or not at all, which SD
//     and eMMC controllers do (they program a sector's page out of place
//     and switch their mapping once it is written; eMMC calls it reliable
//     write) — the same assumption the slot state record makes.
//  3. The kernel is told the partition's new size (BLKPG). A cut here
//     needs nothing: the next boot's kernel reads the new table.
//
// The filesystem is grown after it is mounted (GrowFS).
func Grow(o Options) (Result, error) {
	disk, direct, err := openDisk(o.Disk)
	if err != nil {
		return Result{}, err
	}
	defer disk.Close()
	size, err := disk.Seek(0, io.SeekEnd)
	if err != nil {
		return Result{}, fmt.Errorf("disk %s: size: %w", o.Disk, err)
	}
	sector, err := readAt(disk, 0, SectorSize)
	if err != nil {
		return Result{}, fmt.Errorf("disk %s: reading the partition table: %w", o.Disk, err)
	}
	table, err := ParseMBR(sector)
	if err != nil {
		return Result{}, fmt.Errorf("disk %s: %w", o.Disk, err)
	}
	plan, err := PlanGrowth(table, size)
	if err != nil {
		return Result{}, fmt.Errorf("disk %s: %w", o.Disk, err)
	}
	res := Result{Plan: plan}
	if plan.Grows() {
		if err := writeTable(disk, table, plan, o.Tail); err != nil {
			return res, fmt.Errorf("disk %s: %w", o.Disk, err)
		}
		res.Wrote = true
	}
	if o.Partition == "" || !direct {
		return res, nil
	}
	res.Told, err = tellKernel(disk, o, int64(table.Data().Start), res.NewSectors)
	if err != nil {
		return res, fmt.Errorf("disk %s: %w", o.Disk, err)
	}
	return res, nil
}

// openDisk opens a block device for direct I/O, so the table is read from
// the medium and written as exactly one sector, not as the page cache's
// 4 KiB page around it. A regular file (a disk image) is opened as it is:
// it has no sectors to tear, and tmpfs refuses O_DIRECT. direct says
// which it was.
func openDisk(path string) (*os.File, bool, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("disk: %w", err)
	}
	flags, direct := os.O_RDWR, st.Mode()&os.ModeDevice != 0
	if direct {
		flags |= unix.O_DIRECT
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, false, fmt.Errorf("disk: %w", err)
	}
	return f, direct, nil
}

// writeTable carries the tail to the new end, then writes the table.
func writeTable(disk *os.File, table Table, plan Plan, tail int64) error {
	if tail > 0 {
		buf, err := readAt(disk, (plan.Start+plan.OldSectors)*SectorSize-tail, int(tail))
		if err != nil {
			return fmt.Errorf("reading the data partition's last %d bytes: %w", tail, err)
		}
		if err := writeAt(disk, buf, (plan.Start+plan.NewSectors)*SectorSize-tail); err != nil {
			return fmt.Errorf("copying the data partition's last %d bytes to its new end: %w", tail, err)
		}
	}
	// NewSectors fits: PlanGrowth keeps the end within what an MBR reaches.
	if err := writeAt(disk, table.WithDataSectors(uint32(plan.NewSectors)), 0); err != nil {
		return fmt.Errorf("writing the partition table: %w", err)
	}
	return nil
}

// readAt reads n bytes at off into a buffer fit for direct I/O.
func readAt(f *os.File, off int64, n int) ([]byte, error) {
	buf := aligned(n)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, err
	}
	return buf, nil
}

// writeAt writes b at off and makes it durable: fsync on a block device
// also flushes the device's write cache.
func writeAt(f *os.File, b []byte, off int64) error {
	buf := aligned(len(b))
	copy(buf, b)
	if _, err := f.WriteAt(buf, off); err != nil {
		return err
	}
	return f.Sync()
}

// aligned returns n zero bytes starting on a 4 KiB boundary, as O_DIRECT
// wants of its buffers (Go's heap does not move them).
func aligned(n int) []byte {
	const align = 4096
	b := make([]byte, n+align)
	skip := int(-uintptr(unsafe.Pointer(&b[0])) & (align - 1))
	return b[skip : skip+n : skip+n]
}

// tellKernel sets the kernel's view of the data partition to the table's
// when the kernel's is smaller: just grown, or grown by an earlier boot
// that was cut before it could say so (the kernel then read the new
// table at boot, and there is nothing to do).
func tellKernel(disk *os.File, o Options, start, sectors int64) (bool, error) {
	have, err := kernelSectors(o)
	if err != nil {
		return false, err
	}
	if have >= sectors {
		return false, nil
	}
	pno, err := partitionNumber(o)
	if err != nil {
		return false, err
	}
	p := unix.BlkpgPartition{Start: start * SectorSize, Length: sectors * SectorSize, Pno: int32(pno)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg))); errno != 0 {
		return false, fmt.Errorf("telling the kernel %s is %d MiB (BLKPG_RESIZE_PARTITION): %w", o.Partition, sectors*SectorSize>>20, errno)
	}
	return true, nil
}

// kernelSectors is the partition's size as the kernel sees it, in
// 512-byte sectors (sysfs counts in those whatever the disk's).
func kernelSectors(o Options) (int64, error) {
	p := filepath.Join(sysfs(o), "class/block", filepath.Base(o.Partition), "size")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("the kernel's size of %s: %w", o.Partition, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the kernel's size of %s: %s: %w", o.Partition, p, err)
	}
	return n, nil
}

// partitionNumber is the partition's number on its disk, from sysfs.
func partitionNumber(o Options) (int, error) {
	p := filepath.Join(sysfs(o), "class/block", filepath.Base(o.Partition), "partition")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, fmt.Errorf("the partition number of %s: %w", o.Partition, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n != DataPartition {
		return 0, errors.Join(fmt.Errorf("%s is partition %q of its disk, not the data partition %d", o.Partition, strings.TrimSpace(string(b)), DataPartition), err)
	}
	return n, nil
}

func sysfs(o Options) string {
	if o.Sysfs == "" {
		return "/sys"
	}
	return o.Sysfs
}
