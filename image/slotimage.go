package image

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// SlotAPartition is slot A's partition number in a built image: the slot
// the builder fills, and what an update bundle carries.
const SlotAPartition = 2

// slotImageAlign rounds the end of a slot image up to a whole MiB, the
// unit the partitions are laid out in (and a multiple of SD erase
// blocks), so an update writes whole blocks.
const slotImageAlign = 1 << 20

// SlotImage returns what an update writes of a built image: slot A's
// partition up to the end of the last MiB that holds a non-zero byte.
//
// The rest of the partition is free FAT clusters. FAT32 keeps all of its
// metadata (boot sector, FSInfo, backup boot sector, the FATs, the root
// directory's first cluster) at the start of the partition, and the
// builder allocates the files' clusters from there, so whatever a slot
// holds past the image's end is unreferenced: an update need not write it
// nor read it back. For the QEMU boards this is about a quarter of the
// 192 MiB slot, and an update writes and verifies that much less.
func SlotImage(img string) (*io.SectionReader, func() error, error) {
	f, err := os.Open(img)
	if err != nil {
		return nil, nil, fmt.Errorf("image %s: %w", img, err)
	}
	start, size, err := partitionSpan(f, SlotAPartition)
	if err == nil {
		size, err = usedLength(io.NewSectionReader(f, start, size))
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("image %s: slot A: %w", img, err)
	}
	return io.NewSectionReader(f, start, size), f.Close, nil
}

// partitionSpan reads primary partition n's byte offset and length from
// the MBR at the start of r.
func partitionSpan(r io.ReaderAt, n int) (start, size int64, err error) {
	mbr := make([]byte, 512)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return 0, 0, fmt.Errorf("reading the MBR: %w", err)
	}
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return 0, 0, fmt.Errorf("no MBR signature (found %#x %#x)", mbr[510], mbr[511])
	}
	e := mbr[446+16*(n-1):]
	start = int64(binary.LittleEndian.Uint32(e[8:])) * 512
	size = int64(binary.LittleEndian.Uint32(e[12:])) * 512
	if e[4] == 0 || size == 0 {
		return 0, 0, fmt.Errorf("partition %d is empty", n)
	}
	return start, size, nil
}

// usedLength is the length of r up to the end of the last slotImageAlign
// block that holds a non-zero byte, read from the end backwards.
func usedLength(r *io.SectionReader) (int64, error) {
	buf := make([]byte, slotImageAlign)
	for end := r.Size(); end > 0; {
		off := max(end-slotImageAlign, 0)
		n, err := r.ReadAt(buf[:end-off], off)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if n < int(end-off) {
			return 0, fmt.Errorf("partition ends at %d, past the end of the image (%d bytes read of %d)", r.Size(), off+int64(n), end)
		}
		if !allZero(buf[:n]) {
			return end, nil
		}
		end = off
	}
	return 0, fmt.Errorf("partition holds only zeros")
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
