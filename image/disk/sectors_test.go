package disk

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSectors: raw sectors land where asked, before partition 1, and a
// sector that would overlap the MBR or partition 1 is refused with no
// image left behind.
func TestSectors(t *testing.T) {
	small := func(sectors map[int64][]byte) Spec {
		return Spec{DiskID: 1, Epoch: 1767225600, Sectors: sectors,
			Partitions: []Partition{{SizeMiB: 1, Type: TypeLinux}}}
	}
	rec := bytes.Repeat([]byte{0xa5}, SectorSize)
	p := write(t, small(map[int64][]byte{1024: rec, 2047: rec}))
	img, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{1024, 2047} {
		if !bytes.Equal(img[n*SectorSize:(n+1)*SectorSize], rec) {
			t.Errorf("sector %d not written", n)
		}
	}
	for name, sectors := range map[string]map[int64][]byte{
		"the MBR":          {0: rec},
		"partition 1":      {2047: append(rec, rec...)},
		"a partial sector": {1024: rec[:100]},
	} {
		out := filepath.Join(t.TempDir(), "bad.img")
		err := Write(out, small(sectors))
		if err == nil || !strings.Contains(err.Error(), "between the MBR and partition 1") {
			t.Errorf("%s: %v", name, err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%s: image left behind", name)
		}
	}
}
