package growpart

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

const MiB = 1 << 20

// mbr is an MBR sector laid out as image/disk lays out edgegate's disks:
// partitions of the given sizes in MiB back to back from 1 MiB, three
// FAT32 and a Linux one.
func mbr(sizesMiB ...int64) []byte {
	s := make([]byte, SectorSize)
	binary.LittleEndian.PutUint32(s[440:], 0x1234abcd)
	types := []byte{typeFAT32LBA, typeFAT32LBA, typeFAT32LBA, typeLinux}
	start := int64(mibSectors)
	for i, size := range sizesMiB {
		e := s[entriesOffset+i*entrySize:]
		e[4] = types[i]
		binary.LittleEndian.PutUint32(e[8:], uint32(start))
		binary.LittleEndian.PutUint32(e[12:], uint32(size*mibSectors))
		start += size * mibSectors
	}
	binary.LittleEndian.PutUint16(s[sigOffset:], signature)
	return s
}

// qemuLayout is the QEMU boards' image: 513 MiB in all.
var qemuLayout = []int64{64, 192, 192, 64}

const imageBytes = 513 * MiB

func TestPlanGrowth(t *testing.T) {
	const dataStart = 449 * mibSectors
	tests := []struct {
		name   string
		disk   int64
		newMiB int64  // the data partition's size after; 64: unchanged
		why    string // in Plan.Why
		err    string // PlanGrowth refuses, naming this
	}{
		{"the image's own size", imageBytes, 64, "only 0 MiB of the disk lie after it", ""},
		{"a few MiB of slack", imageBytes + 7*MiB, 64, "only 7 MiB of the disk", ""},
		{"just enough to align", imageBytes + 11*MiB, 524 - 449, "", ""},
		{"4 GiB", 4 << 30, 4096 - 449, "", ""},
		{"64 GiB", 64 << 30, 65536 - 449, "", ""},
		{"a '4 GB' card (3.7 GiB, not MiB-aligned)", 3_965_190_144, 3780 - 449, "", ""},
		{"4 GiB and three sectors", 4<<30 + 3*SectorSize, 4096 - 449, "", ""},
		{"4 GiB less one sector", 4<<30 - SectorSize, 4092 - 449, "", ""},
		{"3 TiB: only what an MBR reaches", 3 << 40, 2<<20 - 449, "first 2 TiB", ""},
		{"smaller than the table", imageBytes - SectorSize, 0, "", "the disk has only 1050623 sectors (512 MiB): the image is larger than the card"},
		{"an empty disk", 0, 0, "", "larger than the card"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := ParseMBR(mbr(qemuLayout...))
			if err != nil {
				t.Fatal(err)
			}
			p, err := PlanGrowth(table, tt.disk)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("PlanGrowth = %+v, %v; want an error naming %q", p, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Start != dataStart || p.OldSectors != 64*mibSectors || p.NewSectors != tt.newMiB*mibSectors {
				t.Errorf("plan %+v, want start %d, %d → %d MiB", p, dataStart, 64, tt.newMiB)
			}
			if p.Grows() != (tt.newMiB > 64) || !strings.Contains(p.Why, tt.why) {
				t.Errorf("Grows %v, Why %q; want %v, %q", p.Grows(), p.Why, tt.newMiB > 64, tt.why)
			}
			if end := (p.Start + p.NewSectors) * SectorSize; p.Grows() && (end%Alignment != 0 || end > tt.disk) {
				t.Errorf("grown partition ends at byte %d: not on a %d boundary within the disk's %d", end, Alignment, tt.disk)
			}
		})
	}
}

// TestPlanGrowthRefusesOtherTables: only the table edgegate builds grows;
// the error names what differs.
func TestPlanGrowthRefusesOtherTables(t *testing.T) {
	edit := func(f func(s []byte)) []byte {
		s := mbr(qemuLayout...)
		f(s)
		return s
	}
	entry := func(s []byte, n int) []byte { return s[entriesOffset+(n-1)*entrySize:] }
	tests := []struct {
		name   string
		sector []byte
		err    string
	}{
		{"no signature", edit(func(s []byte) { s[510] = 0 }), "no MBR"},
		{"data partition of another type", edit(func(s []byte) { entry(s, 4)[4] = 0x07 }), "partition 4 has type 0x07"},
		{"an extended partition", edit(func(s []byte) { entry(s, 4)[4] = 0x05 }), "partition 4 has type 0x05"},
		{"only three partitions", mbr(64, 192, 192), "partition 4 has type 0x00"},
		{"a gap before the data partition", edit(func(s []byte) {
			binary.LittleEndian.PutUint32(entry(s, 4)[8:], 450*mibSectors)
		}), "partition 4 starts at sector 921600"},
		{"not starting at 1 MiB", edit(func(s []byte) {
			binary.LittleEndian.PutUint32(entry(s, 1)[8:], 63)
		}), "partition 1 starts at sector 63"},
		{"not whole MiB", edit(func(s []byte) {
			binary.LittleEndian.PutUint32(entry(s, 4)[12:], 64*mibSectors+1)
		}), "partition 4 is 131073 sectors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table, err := ParseMBR(tt.sector)
			if err == nil {
				var p Plan
				p, err = PlanGrowth(table, 64<<30)
				if err == nil {
					t.Fatalf("PlanGrowth = %+v; want a refusal", p)
				}
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %q does not name %q", err, tt.err)
			}
		})
	}
}

// TestWithDataSectors: the new sector differs from the old in the data
// partition's length and end address only.
func TestWithDataSectors(t *testing.T) {
	old := mbr(qemuLayout...)
	table, err := ParseMBR(old)
	if err != nil {
		t.Fatal(err)
	}
	grown := table.WithDataSectors(3647 * mibSectors)
	e := entriesOffset + 3*entrySize
	if !bytes.Equal(grown[:e+5], old[:e+5]) || !bytes.Equal(grown[e+16:], old[e+16:]) || !bytes.Equal(grown[e+8:e+12], old[e+8:e+12]) {
		t.Error("bytes other than the data partition's length and end address changed")
	}
	again, err := ParseMBR(grown)
	if err != nil {
		t.Fatal(err)
	}
	if got := again.Data(); got.Sectors != 3647*mibSectors || got.Start != 449*mibSectors || got.Type != typeLinux {
		t.Errorf("data partition after the write: %+v", got)
	}
	if !bytes.Equal(old, mbr(qemuLayout...)) {
		t.Error("WithDataSectors changed the table it was called on")
	}
}

func TestCHS(t *testing.T) {
	for _, tt := range []struct {
		lba  int64
		want []byte
	}{
		{0, []byte{0, 1, 0}},
		{2047, []byte{32, 32, 0}},           // c0 h32 s32
		{1050623, []byte{101, 36, 65}},      // c65 h101 s36: the QEMU image's last sector
		{16450559, []byte{254, 0xff, 0xff}}, // c1023 h254 s63: the last CHS reaches
		{1 << 30, []byte{254, 0xff, 0xff}},
	} {
		if got := chs(tt.lba); !bytes.Equal(got, tt.want) {
			t.Errorf("chs(%d) = %v, want %v", tt.lba, got, tt.want)
		}
	}
}
