package update

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// pushAndBoot pushes an update to slot b and returns the client, the
// result and the state the bootloader leaves after counting b's try.
func pushAndBoot(t *testing.T, g *gateway) (*Client, Result, slotstate.State) {
	t.Helper()
	c := g.client(t)
	c.poll = 20 * time.Millisecond
	b := makeBundle(t, slotImage(1<<20, 8), bundle.Params{Version: "v2"}, signKey)
	res, err := c.Push(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, tried, _ := g.state(t).Boot()
	return c, res, tried
}

// TestWaitOutcomeCommitted: across a reboot into slot b, which init
// commits, WaitOutcome reports slot b committed; status.json says so.
func TestWaitOutcomeCommitted(t *testing.T) {
	g := newGateway(t)
	c, res, tried := pushAndBoot(t, g)
	committed, _, err := tried.Commit(slotstate.B)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var st Status
	go func() {
		var err error
		st, err = c.WaitOutcome(context.Background(), res)
		done <- err
	}()
	g.config.Info.Version, g.config.Info.Build = "v2", testBuild+1
	g.reboot(t, tried, slotstate.B)
	// init commits the trial slot while the service runs: the service
	// sees it (another process's write) in status.json.
	if _, err := slotstate.NewStore(g.disk).Commit(slotstate.B); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("WaitOutcome: %v", err)
	}
	if st.Running != "b" || st.Active != "b" || st.Version != "v2" || st.Last != "committed" {
		t.Errorf("status %+v", st)
	}
	eventually(t, "status.json", func() error {
		f, err := ReadStatusFile(filepath.Join(g.config.StateDir, StatusFile))
		if err != nil || f.Active != "b" || f.Running != "b" || f.Last != "committed" || f.Seq != uint64(committed.Seq) {
			return fmt.Errorf("%+v, %v", f, err)
		}
		return nil
	})
}

// TestWaitOutcomeFellBack: slot b never commits; the bootloader falls
// back to a and WaitOutcome names the failure.
func TestWaitOutcomeFellBack(t *testing.T) {
	g := newGateway(t)
	c, res, tried := pushAndBoot(t, g)
	_, fell, _ := tried.Boot()
	g.reboot(t, fell, slotstate.A)
	st, err := c.WaitOutcome(context.Background(), res)
	if err == nil || !strings.Contains(err.Error(), "slot b failed its trial") || !strings.Contains(err.Error(), "fell back to slot a") {
		t.Fatalf("WaitOutcome: %v", err)
	}
	if st.Last != "fell-back" || st.LastSlot != "b" || st.Running != "a" {
		t.Errorf("status %+v", st)
	}
	f, err := ReadStatusFile(filepath.Join(g.config.StateDir, StatusFile))
	if err != nil || f.Last != "fell-back" || f.LastSlot != "b" {
		t.Errorf("status.json %+v, %v", f, err)
	}
}

// TestWaitOutcomeGatewayGone: a gateway that does not come back ends the
// wait at the deadline with the last error.
func TestWaitOutcomeGatewayGone(t *testing.T) {
	g := newGateway(t)
	c, res, _ := pushAndBoot(t, g)
	g.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.WaitOutcome(ctx, res); err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("WaitOutcome: %v", err)
	}
}
