package image

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// slotDisk writes a disk image whose partition 2 starts at 1 MiB and
// spans slotMiB MiB, with the byte at each offset of marks (relative to
// the partition) set; truncate cuts the file short of the partition.
func slotDisk(t *testing.T, slotMiB int64, marks []int64, truncate int64, signature bool) string {
	t.Helper()
	const mib = 1 << 20
	mbr := make([]byte, 512)
	e := mbr[446+16:]
	e[4] = 0x0c
	binary.LittleEndian.PutUint32(e[8:], mib/512)
	binary.LittleEndian.PutUint32(e[12:], uint32(slotMiB*mib/512))
	if signature {
		mbr[510], mbr[511] = 0x55, 0xAA
	}
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(mbr, 0); err != nil {
		t.Fatal(err)
	}
	for _, m := range marks {
		if _, err := f.WriteAt([]byte{0xEB}, mib+m); err != nil {
			t.Fatal(err)
		}
	}
	size := mib + slotMiB*mib
	if truncate > 0 {
		size = truncate
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSlotImage(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		name      string
		slotMiB   int64
		marks     []int64
		truncate  int64
		noSig     bool
		want      int64
		wantError string
	}{
		{name: "data in the first MiB", slotMiB: 8, marks: []int64{0, 100}, want: mib},
		{name: "data ends mid-MiB", slotMiB: 8, marks: []int64{0, 3*mib + 5}, want: 4 * mib},
		{name: "data ends on a MiB boundary", slotMiB: 8, marks: []int64{0, 3*mib - 1}, want: 3 * mib},
		{name: "data in the last byte", slotMiB: 8, marks: []int64{8*mib - 1}, want: 8 * mib},
		{name: "only zeros", slotMiB: 8, wantError: "only zeros"},
		{name: "no MBR", slotMiB: 8, marks: []int64{0}, noSig: true, wantError: "no MBR signature"},
		{name: "image cut short", slotMiB: 8, marks: []int64{0}, truncate: 5 * mib, wantError: "past the end of the image"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := slotDisk(t, tt.slotMiB, tt.marks, tt.truncate, !tt.noSig)
			r, closeImg, err := SlotImage(img)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("SlotImage: %v, want an error naming %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer closeImg()
			if r.Size() != tt.want {
				t.Fatalf("slot image of %d bytes, want %d", r.Size(), tt.want)
			}
			b := make([]byte, 1)
			if _, err := r.ReadAt(b, 0); err != nil || (len(tt.marks) > 0 && tt.marks[0] == 0 && b[0] != 0xEB) {
				t.Fatalf("first byte %#x (%v): want the partition's", b[0], err)
			}
		})
	}
}
