package image

import (
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/ubootscr"
	"github.com/edgegate/edgegate/init/slotstate"
)

// checkInitialSlotState: a built image carries both copies of the slot
// state, slot a committed, and no slot.txt on the boot FAT.
func checkInitialSlotState(t *testing.T, img string) {
	t.Helper()
	p, err := slotstate.ReadPairFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disk.ReadFile(img, 1, "slot.txt"); err == nil {
		t.Error("the boot FAT still has slot.txt")
	}
	for i := range p.States {
		if p.Errs[i] != nil || p.States[i] != slotstate.Initial() {
			t.Errorf("slot state copy %d = %v, %v; want %v", i, p.States[i], p.Errs[i], slotstate.Initial())
		}
	}
}

// TestBootScriptRecordLayout: the script addresses the record with the
// offsets, magic, sectors and event codes of init/slotstate, so the two
// cannot drift apart; and boot.scr decodes to the same text.
func TestBootScriptRecordLayout(t *testing.T) {
	for _, b := range boards.All() {
		script, scr, err := BootScript(b, DefaultEpoch)
		if err != nil {
			t.Fatal(err)
		}
		dec, err := ubootscr.Decode(scr)
		if err != nil || dec != script {
			t.Fatalf("%s: boot.scr does not decode to the script: %v", b.Name, err)
		}
		for _, want := range []string{
			"== 0x53534745", "read ${r} ${lba} 1", "setenv lba 0x400", "setenv lba 0x600",
			"crc32 ${r} 0x1fc ${ssc}", "mw.l ${fe} 0x3", "mw.l ${fe} 0x5",
			"${devtype} write ${ssn} ${wlba} 1", "edgegate.slot=${slot}", b.BootCmd + " ${kernel_addr_r}",
		} {
			if !strings.Contains(script, want) {
				t.Errorf("%s: boot script lacks %q", b.Name, want)
			}
		}
		if strings.Contains(script, "fatwrite") || strings.Contains(script, "slot.txt") {
			t.Errorf("%s: boot script still writes slot.txt", b.Name)
		}
	}
}
