// Package growpart grows the data partition, the last of the four an
// edgegate image holds, to the end of the card the image was written to,
// and its ext4 filesystem with it.
//
// The image is as large as its partitions (a few hundred MiB); the card
// it goes on is 4 GiB, 64 GiB or more, and everything past the image
// would otherwise lie unused. The partition table is an MBR: one sector,
// so moving the partition's end is one sector write. The kernel is told
// with BLKPG_RESIZE_PARTITION, which changes one partition while the
// others (the slot's FAT and the root image on it) stay in use.
//
// Only the table edgegate builds is changed: four primary partitions,
// three FAT and one Linux, back to back from 1 MiB, the data partition
// last. Anything else (a table someone edited, a card with a partition
// after ours) is left as it is and the boot goes on.
//
// The filesystem is grown online, mounted, by the kernel
// (EXT4_IOC_RESIZE_FS): it adds block groups in journaled transactions,
// so a power cut in the middle leaves a consistent filesystem of some
// size in between, and the next boot, seeing it smaller than its
// partition, grows it the rest of the way. resize2fs on the unmounted
// filesystem has no journal, and needs a full e2fsck -f first.
package growpart

import (
	"encoding/binary"
	"fmt"
)

// SectorSize is the MBR's sector, in bytes.
const SectorSize = 512

// MBR layout (the classic one the Raspberry Pi firmware and U-Boot read).
const (
	entriesOffset = 446
	entrySize     = 16
	signature     = 0xaa55
	sigOffset     = 510
)

// Partition types of the table edgegate builds (image/disk).
const (
	typeFAT32LBA = 0x0c
	typeLinux    = 0x83
)

// DataPartition is the number of the partition that grows.
const DataPartition = 4

// mibSectors is one MiB in sectors: every partition edgegate builds
// starts at a MiB boundary and is a whole number of MiB.
const mibSectors = (1 << 20) / SectorSize

// Entry is one primary partition entry.
type Entry struct {
	Status  byte
	Type    byte
	Start   uint32 // first sector
	Sectors uint32 // length in sectors
}

// End is the sector after the partition.
func (e Entry) End() int64 { return int64(e.Start) + int64(e.Sectors) }

// Table is the MBR's four primary entries and the sector they came from.
type Table struct {
	Entries [4]Entry
	sector  [SectorSize]byte
}

// ParseMBR reads the partition table of an MBR sector.
func ParseMBR(sector []byte) (Table, error) {
	var t Table
	if len(sector) != SectorSize {
		return t, fmt.Errorf("partition table: %d bytes, want one %d-byte sector", len(sector), SectorSize)
	}
	if sig := binary.LittleEndian.Uint16(sector[sigOffset:]); sig != signature {
		return t, fmt.Errorf("partition table: no MBR (signature %#04x, want %#04x)", sig, signature)
	}
	copy(t.sector[:], sector)
	for i := range t.Entries {
		b := sector[entriesOffset+i*entrySize:]
		t.Entries[i] = Entry{
			Status:  b[0],
			Type:    b[4],
			Start:   binary.LittleEndian.Uint32(b[8:]),
			Sectors: binary.LittleEndian.Uint32(b[12:]),
		}
	}
	return t, nil
}

// CheckLayout says whether t is the table edgegate builds: three FAT32
// partitions and a Linux one, in that order, back to back from 1 MiB,
// each a whole number of MiB. Growing any other table could overrun a
// partition edgegate does not know about.
func (t Table) CheckLayout() error {
	want := [4]byte{typeFAT32LBA, typeFAT32LBA, typeFAT32LBA, typeLinux}
	next := int64(mibSectors)
	for i, e := range t.Entries {
		switch {
		case e.Type != want[i]:
			return fmt.Errorf("partition %d has type %#02x, edgegate's has %#02x", i+1, e.Type, want[i])
		case int64(e.Start) != next:
			return fmt.Errorf("partition %d starts at sector %d, edgegate's at %d (right after partition %d)", i+1, e.Start, next, i)
		case e.Sectors == 0 || e.Sectors%mibSectors != 0:
			return fmt.Errorf("partition %d is %d sectors, not a whole number of MiB as edgegate makes them", i+1, e.Sectors)
		}
		next = e.End()
	}
	return nil
}

// Data is the data partition's entry.
func (t Table) Data() Entry { return t.Entries[DataPartition-1] }

// WithDataSectors returns the MBR sector with the data partition's length
// set to sectors: its size and its end's CHS address change, every other
// byte of the sector stays as it was.
func (t Table) WithDataSectors(sectors uint32) []byte {
	out := t.sector
	b := out[entriesOffset+(DataPartition-1)*entrySize:]
	binary.LittleEndian.PutUint32(b[12:], sectors)
	last := int64(t.Data().Start) + int64(sectors) - 1
	copy(b[5:8], chs(last))
	return out[:]
}

// chs encodes a sector's cylinder/head/sector address as MBR entries hold
// it, for the 255-head, 63-sector geometry every tool assumes, and the
// maximum (1023/254/63) for sectors past what CHS can address (8 GiB):
// nothing edgegate boots reads CHS, but fsck tools compare it.
func chs(lba int64) []byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	if c > 1023 {
		return []byte{0xfe, 0xff, 0xff}
	}
	h := (lba / sectors) % heads
	s := lba%sectors + 1
	return []byte{byte(h), byte(s) | byte(c>>2)&0xc0, byte(c)}
}
