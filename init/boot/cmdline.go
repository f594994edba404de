package boot

import "strings"

// Cmdline holds the kernel command line parameters init reads.
type Cmdline map[string]string

// ParseCmdline splits /proc/cmdline into key=value pairs; bare words map
// to "".
func ParseCmdline(s string) Cmdline {
	c := Cmdline{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		c[k] = v
	}
	return c
}

// Slot is the slot the bootloader started: "a" or "b", "?" when unknown.
func (c Cmdline) Slot() string {
	switch s := strings.ToLower(c["edgegate.slot"]); s {
	case "a", "b":
		return s
	default:
		return "?"
	}
}
