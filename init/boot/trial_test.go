package boot

import (
	"strings"
	"testing"

	"github.com/edgegate/edgegate/init/slotstate"
)

// TestSlotLine: the one line a boot says about the slot state.
func TestSlotLine(t *testing.T) {
	armed, _ := slotstate.Initial().Trial(slotstate.B)
	_, tried, _ := armed.Boot()
	_, fell, _ := tried.Boot()
	cases := []struct {
		st      slotstate.State
		running slotstate.Slot
		want    string
	}{
		{slotstate.Initial(), slotstate.A, "slot a committed (version v1; "},
		{tried, slotstate.B, "slot b on trial (version v1)"},
		{fell, slotstate.A, "slot b failed its trial (slot a committed; last: slot b failed its trial"},
		{slotstate.Initial(), slotstate.B, "slot b is running but neither committed nor on trial"},
	}
	for _, c := range cases {
		if got := slotLine(c.st, c.running, "v1"); !strings.HasPrefix(got, c.want) {
			t.Errorf("slotLine(%v, %s) = %q, want it to start %q", c.st, c.running, got, c.want)
		}
	}
}
