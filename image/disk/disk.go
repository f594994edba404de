// Package disk writes and reads the edgegate disk image: an MBR partition
// table (the Raspberry Pi boot ROM and U-Boot both read MBR) with FAT32
// filesystems written in pure Go, reproducibly.
package disk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

// SectorSize is the logical sector size of every image.
const SectorSize = 512

// MiB is a mebibyte in bytes.
const MiB = 1 << 20

// MBR partition type bytes.
const (
	TypeFAT32LBA byte = 0x0c
	TypeLinux    byte = 0x83
)

// Partition is one primary partition. Partitions are laid out in order,
// each starting on a MiB boundary, the first at 1 MiB.
type Partition struct {
	SizeMiB  int
	Type     byte
	Bootable bool
	// FAT, when set, formats the partition as FAT32 holding these files.
	// Without it the partition is left zeroed.
	FAT *FAT
}

// FAT is the content of a FAT32 partition.
type FAT struct {
	Label string
	Files map[string][]byte // path (slash-separated, absolute or not) → contents
}

// Spec describes a whole image.
type Spec struct {
	Partitions []Partition
	// DiskID is the MBR disk signature (PARTUUID prefix).
	DiskID uint32
	// Epoch is the timestamp written into FAT directory entries.
	Epoch int64
	// Sectors are written raw into the first MiB, before partition 1,
	// keyed by sector number (1..2047; the slot state records, say).
	Sectors map[int64][]byte
}

// Size is the total image size in bytes: the partitions plus the first MiB.
func (s Spec) Size() int64 {
	total := int64(1)
	for _, p := range s.Partitions {
		total += int64(p.SizeMiB)
	}
	return total * MiB
}

// Start returns the byte offset of partition n (1-based).
func (s Spec) Start(n int) int64 {
	off := int64(1)
	for _, p := range s.Partitions[:n-1] {
		off += int64(p.SizeMiB)
	}
	return off * MiB
}

// Write creates the image at dst, which must not exist yet.
func Write(dst string, s Spec) error {
	if len(s.Partitions) == 0 || len(s.Partitions) > 4 {
		return fmt.Errorf("disk image: %d partitions, want 1 to 4 primary partitions", len(s.Partitions))
	}
	// go-diskfs stamps FAT directory entries from SOURCE_DATE_EPOCH; set it
	// so the image bytes do not depend on the wall clock.
	if err := os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(s.Epoch, 10)); err != nil {
		return err
	}
	d, err := diskfs.Create(dst, s.Size(), diskfs.SectorSizeDefault)
	if err != nil {
		return fmt.Errorf("disk image %s: %w", dst, err)
	}
	err = fill(d, s)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = finish(dst, s)
	}
	if err != nil {
		os.Remove(dst) // never leave a half-written image behind
		return fmt.Errorf("disk image %s: %w", dst, err)
	}
	return nil
}

// fill writes the partition table and the FAT partitions.
func fill(d *disk.Disk, s Spec) error {
	table := &mbr.Table{LogicalSectorSize: SectorSize, PhysicalSectorSize: SectorSize}
	for i, p := range s.Partitions {
		table.Partitions = append(table.Partitions, &mbr.Partition{
			Index:    i + 1,
			Bootable: p.Bootable,
			Type:     mbr.Type(p.Type),
			Start:    uint32(s.Start(i+1) / SectorSize),
			Size:     uint32(int64(p.SizeMiB) * MiB / SectorSize),
		})
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("partition table: %w", err)
	}
	for i, p := range s.Partitions {
		if p.FAT == nil {
			continue
		}
		if err := writeFAT(d, i+1, p.FAT); err != nil {
			return fmt.Errorf("partition %d: %w", i+1, err)
		}
	}
	return nil
}

// finish writes what go-diskfs leaves out: the MBR disk signature and the
// FAT32 free-cluster summary (FSInfo), which dosfstools and Linux expect
// to be filled in.
func finish(dst string, s Spec) error {
	f, err := os.OpenFile(dst, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var id [4]byte
	binary.LittleEndian.PutUint32(id[:], s.DiskID)
	if _, err := f.WriteAt(id[:], 440); err != nil {
		return fmt.Errorf("disk id: %w", err)
	}
	for n, b := range s.Sectors {
		if n < 1 || (n+int64(len(b))/SectorSize)*SectorSize > MiB || len(b)%SectorSize != 0 {
			return fmt.Errorf("sector %d: %d bytes do not fit whole sectors between the MBR and partition 1", n, len(b))
		}
		if _, err := f.WriteAt(b, n*SectorSize); err != nil {
			return fmt.Errorf("sector %d: %w", n, err)
		}
	}
	for i, p := range s.Partitions {
		if p.FAT == nil {
			continue
		}
		if err := fixFSInfo(f, s.Start(i+1)); err != nil {
			return fmt.Errorf("partition %d: %w", i+1, err)
		}
	}
	return f.Sync()
}

func writeFAT(d *disk.Disk, n int, f *FAT) error {
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition: n, FSType: filesystem.TypeFat32, VolumeLabel: f.Label, Reproducible: true,
	})
	if err != nil {
		return fmt.Errorf("creating FAT32: %w", err)
	}
	names := make([]string, 0, len(f.Files))
	for name := range f.Files {
		names = append(names, name)
	}
	sort.Strings(names) // directory order must not depend on map order
	for _, name := range names {
		p := path.Clean("/" + name)
		if path.Dir(p) != "/" {
			// go-diskfs v1.9 writes a wrong ".." entry in subdirectories
			// (fsck.vfat flags it); nothing edgegate boots needs one yet.
			return fmt.Errorf("%s: subdirectories are not supported on FAT partitions", name)
		}
		if err := writeFile(fs, p, f.Files[name]); err != nil {
			return err
		}
	}
	return nil
}

func writeFile(fs filesystem.FileSystem, p string, data []byte) error {
	fh, err := fs.OpenFile(p, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	if _, err := fh.Write(data); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p, err)
	}
	return nil
}

// ReadFile returns the contents of file p on FAT partition n of image.
func ReadFile(image string, n int, p string) ([]byte, error) {
	var b []byte
	err := withFS(image, n, func(fs filesystem.FileSystem) error {
		fh, err := fs.OpenFile(path.Clean("/"+p), os.O_RDONLY)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		defer fh.Close()
		b, err = io.ReadAll(fh)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		return nil
	})
	return b, err
}

// ReadDir returns the names of the files in the top directory of FAT
// partition n of image, sorted.
func ReadDir(image string, n int) ([]string, error) {
	var names []string
	err := withFS(image, n, func(fs filesystem.FileSystem) error {
		entries, err := fs.ReadDir(".") // an io/fs path: "." is the top
		if err != nil {
			return err
		}
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return nil
	})
	sort.Strings(names)
	return names, err
}

// withFS opens image read-only and calls f with the filesystem of its
// partition n; f's error comes back naming the image and partition.
func withFS(image string, n int, f func(filesystem.FileSystem) error) error {
	d, err := diskfs.Open(image, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return fmt.Errorf("opening %s: %w", image, err)
	}
	defer d.Close()
	fs, err := d.GetFilesystem(n)
	if err == nil {
		err = f(fs)
	}
	if err != nil {
		return fmt.Errorf("%s partition %d: %w", image, n, err)
	}
	return nil
}
