package slotstate

import (
	"errors"
	"fmt"
)

// TrialTries is how many boots a freshly written slot gets: one. A trial
// boot that does not commit (a crash, a hang the watchdog ends, a power
// cut, a failed health check) falls back to the committed slot.
const TrialTries = 1

// ErrSeqExhausted: the sequence reached MaxSeq and no more records can be
// written in order.
var ErrSeqExhausted = errors.New("slot state: sequence number exhausted")

// next returns s with the sequence advanced, for the next write.
func (s State) next() (State, error) {
	if s.Seq >= MaxSeq {
		return State{}, fmt.Errorf("%w at %d", ErrSeqExhausted, s.Seq)
	}
	s.Seq++
	return s, nil
}

// Invalidate marks target unbootable before an update writes it: it is
// no longer on trial, so no boot starts a half-written slot. The
// committed slot cannot be invalidated: it is what runs.
func (s State) Invalidate(target Slot) (State, error) {
	if err := checkSlot(target); err != nil {
		return State{}, err
	}
	if target == s.Active {
		return State{}, fmt.Errorf("slot %s is the committed slot; an update writes the other one", target)
	}
	n, err := s.next()
	if err != nil {
		return State{}, err
	}
	n.TrialSlot, n.TriesLeft, n.Last, n.LastSlot = NoSlot, 0, Invalidated, target
	return n, nil
}

// Trial arms target, written and verified, for TrialTries trial boots.
func (s State) Trial(target Slot) (State, error) {
	if err := checkSlot(target); err != nil {
		return State{}, err
	}
	if target == s.Active {
		return State{}, fmt.Errorf("slot %s is already the committed slot", target)
	}
	n, err := s.next()
	if err != nil {
		return State{}, err
	}
	n.TrialSlot, n.TriesLeft, n.Last, n.LastSlot = target, TrialTries, Armed, target
	return n, nil
}

// Commit makes running, booted on trial and found healthy, the committed
// slot. changed is false when running is committed already (no write
// needed). Committing a slot that is not on trial is refused: the
// bootloader fell back from it, or it was never armed.
func (s State) Commit(running Slot) (n State, changed bool, err error) {
	if err := checkSlot(running); err != nil {
		return State{}, false, err
	}
	if running == s.Active && s.TrialSlot == NoSlot {
		return s, false, nil
	}
	if running != s.TrialSlot {
		return State{}, false, fmt.Errorf("slot %s is not on trial (%s)", running, s)
	}
	if n, err = s.next(); err != nil {
		return State{}, false, err
	}
	n.Active, n.TrialSlot, n.TriesLeft, n.Last, n.LastSlot = running, NoSlot, 0, Committed, running
	return n, true, nil
}

// Boot is what the boot script does with s: the slot it boots, and the
// record it writes first, if any (write false: none). A slot on trial
// with tries left is booted after counting the try; one with none left is
// recorded as failed and the committed slot booted.
func (s State) Boot() (boot Slot, n State, write bool) {
	if s.TrialSlot == NoSlot {
		return s.Active, s, false
	}
	n = s
	n.Seq++ // U-Boot's own write: it does not stop at MaxSeq (see MaxSeq)
	n.LastSlot = s.TrialSlot
	if s.TriesLeft > 0 {
		n.TriesLeft--
		n.Last = Tried
		return s.TrialSlot, n, true
	}
	n.TrialSlot, n.Last = NoSlot, FellBack
	return s.Active, n, true
}

func checkSlot(s Slot) error {
	if s != A && s != B {
		return fmt.Errorf("slot %q: want a or b", s)
	}
	return nil
}
