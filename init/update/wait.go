package update

import (
	"context"
	"fmt"
	"time"

	"github.com/edgegate/edgegate/init/slotstate"
)

// WaitOutcome polls Status across the reboot until the slot written is
// committed (returns nil) or the gateway fell back from it (an error
// naming the outcome), or ctx ends. While the gateway reboots it does not
// answer; that is expected and not an error.
func (c *Client) WaitOutcome(ctx context.Context, r Result) (Status, error) {
	var last Status
	var lastErr error
	for {
		st, err := c.statusWithin(ctx, 15*time.Second)
		if err == nil {
			last, lastErr = st, nil
			switch {
			case st.Running == r.Slot && st.Active == r.Slot && st.Trial == "":
				return st, nil
			case st.Last == slotstate.FellBack.String() && st.LastSlot == r.Slot:
				return st, fmt.Errorf("slot %s failed its trial: the gateway fell back to slot %s (version %s, build %d)",
					r.Slot, st.Active, st.Version, st.Build)
			}
		} else {
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return last, fmt.Errorf("waiting for slot %s's outcome: %w (last error: %v)", r.Slot, ctx.Err(), lastErr)
			}
			return last, fmt.Errorf("waiting for slot %s's outcome: %w (last: slot %s running, slot %s committed, %s)",
				r.Slot, ctx.Err(), last.Running, last.Active, last.Last)
		case <-time.After(c.poll):
		}
	}
}

func (c *Client) statusWithin(ctx context.Context, d time.Duration) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return c.Status(ctx)
}
