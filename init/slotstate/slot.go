package slotstate

import (
	"fmt"
	"strings"
)

// Slot names one of the two slots: "a" (partition 2) or "b" (partition 3).
type Slot string

// The slots. NoSlot is the empty trial field: nothing on trial.
const (
	A      Slot = "a"
	B      Slot = "b"
	NoSlot Slot = ""
)

// Other returns the slot that is not s: the one an update writes while s
// runs.
func (s Slot) Other() Slot {
	if s == B {
		return A
	}
	return B
}

// ParseSlot reads "a" or "b".
func ParseSlot(v string) (Slot, error) {
	switch s := Slot(strings.ToLower(v)); s {
	case A, B:
		return s, nil
	}
	return NoSlot, fmt.Errorf("slot %q: want a or b", v)
}

// Running returns the slot the bootloader started, from the
// edgegate.slot= parameter the boot script puts on the kernel command
// line. The bootloader knows which partition it loaded the kernel from;
// nothing else does.
func Running(cmdline string) (Slot, error) {
	for _, f := range strings.Fields(cmdline) {
		if v, ok := strings.CutPrefix(f, "edgegate.slot="); ok {
			return ParseSlot(v)
		}
	}
	return NoSlot, fmt.Errorf("kernel command line has no edgegate.slot=")
}

// code is the slot's value in a record: its letter's byte, so a hex dump
// of the sector shows 'a' or 'b'.
func (s Slot) code() uint32 {
	if s == NoSlot {
		return 0
	}
	return uint32(s[0])
}

func slotFromCode(c uint32, allowNone bool) (Slot, error) {
	switch c {
	case 'a':
		return A, nil
	case 'b':
		return B, nil
	case 0:
		if allowNone {
			return NoSlot, nil
		}
	}
	return NoSlot, fmt.Errorf("slot code %#x is not 'a' or 'b'", c)
}
