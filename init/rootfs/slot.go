package rootfs

import (
	"fmt"
	"strings"
)

// SlotPartition is the partition number of each slot, as the image lays
// them out and the boot script boots them.
var SlotPartition = map[string]int{"a": 2, "b": 3}

// SlotFromCmdline returns the slot the bootloader started ("a" or "b"),
// from edgegate.slot= on the kernel command line.
func SlotFromCmdline(cmdline string) (string, error) {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "edgegate.slot="); ok {
			s := strings.ToLower(v)
			if _, known := SlotPartition[s]; !known {
				return "", fmt.Errorf("kernel command line: edgegate.slot=%s: want a or b", v)
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("kernel command line: no edgegate.slot= (the boot script sets it): cannot tell which slot's root to mount")
}
