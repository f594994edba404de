package boot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgegate/edgegate/init/atomicfile"
	"github.com/edgegate/edgegate/init/power"
	"github.com/edgegate/edgegate/init/slotstate"
)

// slotStatePath keeps the slot state line of this boot for the status API.
const slotStatePath = "/var/lib/edgegate/slot-state"

// trialPoll is how often a trial boot checks its health.
const trialPoll = 500 * time.Millisecond

// checkSlot reads the slot state, says what it means for this boot in one
// line, and on a trial boot starts the wait for the health check that
// commits the slot. A slot state that cannot be read or written is
// reported; the boot goes on (the bootloader already chose this slot).
func (s *System) checkSlot(ctx context.Context, cmdline string) {
	running, err := slotstate.Running(cmdline)
	if err != nil {
		s.Console.Say("slot state: %v; nothing to commit", err)
		return
	}
	store, err := slotstate.Open("/dev/" + s.Info.Disk)
	if err != nil {
		s.Console.Say("%v", err)
		return
	}
	st, err := store.Load()
	if errors.Is(err, slotstate.ErrUnreadable) {
		s.Console.Say("%v; the bootloader booted slot a as built", err)
	} else if err != nil {
		store.Close()
		s.Console.Say("%v", err)
		return
	}
	if fixed, wrote, err := store.Repair(); err != nil {
		s.Console.Say("slot state: repairing a bad copy: %v", err)
	} else if wrote {
		st = fixed
		s.Console.Say("slot state: a bad copy rewritten (seq %d)", st.Seq)
	}
	line := slotLine(st, running, s.Info.Version)
	s.Console.Say("%s", line)
	s.saveSlotLine(line)
	if st.TrialSlot != running {
		store.Close()
		return
	}
	go func() {
		defer store.Close()
		s.awaitTrial(ctx, store, running)
	}()
}

// slotLine is the one line a boot prints about the slot state.
func slotLine(st slotstate.State, running slotstate.Slot, version string) string {
	switch {
	case st.TrialSlot == running:
		return fmt.Sprintf("slot %s on trial (version %s): committing it once healthy; slot %s stays committed until then", running, version, st.Active)
	case running != st.Active:
		return fmt.Sprintf("slot %s is running but neither committed nor on trial (%s)", running, st)
	case st.Last == slotstate.FellBack:
		return fmt.Sprintf("slot %s failed its trial (%s); running slot %s (version %s)", st.LastSlot, st, running, version)
	}
	return fmt.Sprintf("slot %s committed (version %s; %s)", running, version, st)
}

func (s *System) saveSlotLine(line string) {
	if !s.dataOK {
		return
	}
	err := os.MkdirAll(filepath.Dir(slotStatePath), 0o755)
	if err == nil {
		err = atomicfile.WriteFile(slotStatePath, []byte(line+"\n"), 0o644)
	}
	if err != nil {
		s.Console.Say("slot state: %v", err)
	}
}

// awaitTrial commits running once the health check holds, or reboots
// when the deadline passes first, so the bootloader, finding no tries
// left, falls back to the committed slot and records the failure.
func (s *System) awaitTrial(ctx context.Context, store *slotstate.Store, running slotstate.Slot) {
	deadline := s.Config.Trial.Deadline.D()
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	why := "not checked yet"
	for {
		var ok bool
		if ok, why = s.trialHealthy(ctx); ok {
			break
		}
		select {
		case <-ctx.Done():
			s.failTrial(running, fmt.Sprintf("not healthy within %v: %s", deadline, why))
			return
		case <-time.After(trialPoll):
		}
	}
	st, err := store.Commit(running)
	if err != nil {
		s.Console.Say("slot %s healthy but not committed: %v", running, err)
		return
	}
	line := fmt.Sprintf("slot %s committed after its trial (version %s; %s)", running, s.Info.Version, st)
	s.Console.Say("%s", line)
	s.saveSlotLine(line)
}

// trialHealthy is the health check of a trial boot: every service healthy
// in the supervisor's view and, when edgecore has a cloud configured,
// connected to it. It says what is missing.
func (s *System) trialHealthy(ctx context.Context) (bool, string) {
	if s.sup == nil && len(s.Config.Services) > 0 {
		return false, "the services did not start"
	}
	var sick []string
	if s.sup != nil {
		for _, st := range s.sup.Status() {
			if !st.Healthy {
				sick = append(sick, fmt.Sprintf("%s %s", st.Name, st.State))
			}
		}
	}
	if len(sick) > 0 {
		return false, "not healthy: " + strings.Join(sick, ", ")
	}
	for _, sp := range s.Config.Services {
		socket, ok := inspectSocket(sp)
		if !ok {
			continue
		}
		connected, err := askConnected(ctx, unixClient(socket))
		switch {
		case errors.Is(err, errNoCloud):
		case err != nil:
			return false, fmt.Sprintf("edgecore's cloud link: %v", err)
		case !connected:
			return false, "edgecore not connected to its cloud"
		}
	}
	return true, ""
}

// failTrial says why the trial failed and asks Serve for an orderly
// reboot.
func (s *System) failTrial(running slotstate.Slot, why string) {
	s.Console.Say("slot %s failed its trial: %s; rebooting so the bootloader falls back", running, why)
	req := power.Request{Action: power.Reboot, Cause: "a failed trial of slot " + string(running)}
	select {
	case s.rootBad <- req:
	default: // a reboot is already asked for
	}
}
