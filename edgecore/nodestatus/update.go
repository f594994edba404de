package nodestatus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// EdgegateUpdate reports the gateway's slots as edgegate's update service
// last wrote them: True while the running slot is committed, Unknown while
// an update is written and about to be tried or a slot is on trial, False
// after a trial failed and the gateway rolled back. Only gateways with the
// update service have it.
const EdgegateUpdate v1.NodeConditionType = "EdgegateUpdate"

// Reasons of EdgegateUpdate.
const (
	updateCommitted  = "Committed"
	updateInProgress = "UpdateInProgress"
	updateOnTrial    = "OnTrial"
	updateRolledBack = "RolledBack"
	updateUnreadable = "StatusUnreadable"
)

// maxUpdateStatusFile bounds what is read of the outcome file: the service
// writes well under 1 KiB.
const maxUpdateStatusFile = 64 << 10

// UpdateReport is the update service's outcome file as read for one
// status update: its state, or why it cannot be used.
type UpdateReport struct {
	Path   string
	Status UpdateStatus // valid when Err is nil
	Err    error
}

// UpdateStatus is the part of the update service's outcome file the
// condition is built from (the service's Status, by its JSON names).
type UpdateStatus struct {
	Version    string         `json:"version"` // of the running slot
	Build      uint64         `json:"build"`
	Running    string         `json:"running"` // the slot booted
	Active     string         `json:"active"`  // the committed slot
	Trial      string         `json:"trial"`   // the slot on trial, if any
	TriesLeft  int            `json:"triesLeft"`
	Last       string         `json:"last"` // the slot state's last event
	LastSlot   string         `json:"lastSlot"`
	Seq        uint64         `json:"seq"`
	LastUpdate *UpdateOutcome `json:"lastUpdate"`
}

// UpdateOutcome is the last update the service ran.
type UpdateOutcome struct {
	Time    time.Time `json:"time"`
	Version string    `json:"version"`
	Build   uint64    `json:"build"`
	Slot    string    `json:"slot"`
	Error   string    `json:"error"`
	Seq     uint64    `json:"seq"` // the slot state's seq when it ended; 0: not recorded
}

// Last events of the slot state, as the service names them.
const (
	eventBuilt       = "built"
	eventInvalidated = "invalidated"
	eventArmed       = "armed"
	eventTried       = "tried"
	eventCommitted   = "committed"
	eventFellBack    = "fell-back"
)

// readUpdateStatus reads the outcome file at path: nil when there is none
// (an image without the update service), else its state or the problem.
func readUpdateStatus(path string) *UpdateReport {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	r := &UpdateReport{Path: path}
	if err != nil {
		r.Err = err
		return r
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUpdateStatusFile+1))
	if err != nil {
		r.Err = err
		return r
	}
	r.Status, r.Err = parseUpdateStatus(data)
	return r
}

// parseUpdateStatus decodes and checks the outcome file's content.
func parseUpdateStatus(data []byte) (UpdateStatus, error) {
	var s UpdateStatus
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return s, errors.New("the file is empty")
	case len(data) > maxUpdateStatusFile:
		return s, fmt.Errorf("the file is larger than %d bytes", maxUpdateStatusFile)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("not the update service's status: %w", err)
	}
	return s, s.check()
}

// check rejects a status the service could not have written.
func (s UpdateStatus) check() error {
	isSlot := func(v string) bool { return v == "a" || v == "b" }
	switch {
	case !isSlot(s.Running):
		return fmt.Errorf("running slot %q is not a or b", s.Running)
	case s.Trial != "" && !isSlot(s.Trial):
		return fmt.Errorf("trial slot %q is not a or b", s.Trial)
	case s.LastSlot != "" && !isSlot(s.LastSlot):
		return fmt.Errorf("lastSlot %q is not a or b", s.LastSlot)
	}
	switch s.Last {
	case eventBuilt, eventInvalidated, eventArmed, eventTried, eventCommitted, eventFellBack:
		return nil
	case "":
		return errors.New("no last event")
	}
	return fmt.Errorf("unknown last event %q", s.Last)
}

// updateState is what identifies one slot state, to see when it changed.
type updateState struct {
	seq                                  uint64
	running, active, trial, last, lastAt string
	triesLeft                            int
}

func (s UpdateStatus) state() updateState {
	return updateState{seq: s.Seq, running: s.Running, active: s.Active, trial: s.Trial, last: s.Last, lastAt: s.LastSlot, triesLeft: s.TriesLeft}
}

// updateTracker follows the outcome file across status updates: when its
// slot state was first seen, so that a failed update older than the state
// is not reported against it, and which problem was last logged, so that
// an unreadable file is logged once, not at every update.
type updateTracker struct {
	state updateState
	// seen is when state was last read; since is the last time the state
	// before it was read (zero for the first state read): the state
	// changed after since, which is as close as the file allows (it
	// carries no time of the change).
	seen, since time.Time
	known       bool
	problem     string
	// log writes one line; nil: klog (a warning, or info).
	log func(warning bool, line string)
}

// condition is EdgegateUpdate for report; ok is false when there is no
// outcome file.
func (u *updateTracker) condition(r *UpdateReport, now time.Time) (c v1.NodeCondition, ok bool) {
	problem := ""
	switch {
	case r == nil:
	case r.Err != nil:
		problem = fmt.Sprintf("the update service's status file %s cannot be used: %v", r.Path, r.Err)
	default:
		u.observe(r.Status.state(), now)
	}
	if problem != u.problem {
		switch {
		case problem != "":
			u.logLine(true, "nodestatus: "+problem)
		case r != nil:
			u.logLine(false, fmt.Sprintf("nodestatus: the update service's status file %s is readable again", r.Path))
		}
		u.problem = problem
	}
	switch {
	case r == nil:
		return c, false
	case problem != "":
		return v1.NodeCondition{Type: EdgegateUpdate, Status: v1.ConditionUnknown, Reason: updateUnreadable, Message: clip(problem)}, true
	}
	return updateCondition(r.Status, u.since), true
}

func (u *updateTracker) logLine(warning bool, line string) {
	switch {
	case u.log != nil:
		u.log(warning, line)
	case warning:
		klog.Warning(line)
	default:
		klog.Info(line)
	}
}

func (u *updateTracker) observe(s updateState, now time.Time) {
	if u.known && s != u.state {
		u.since = u.seen
	}
	u.state, u.seen, u.known = s, now, true
}

// updateCondition is EdgegateUpdate for a readable status whose slot state
// changed after since (zero: unknown).
func updateCondition(s UpdateStatus, since time.Time) v1.NodeCondition {
	running := fmt.Sprintf("slot %s runs version %s (build %d)", s.Running, s.Version, s.Build)
	c := v1.NodeCondition{Type: EdgegateUpdate}
	switch {
	case s.Last == eventArmed:
		c.Status, c.Reason = v1.ConditionUnknown, updateInProgress
		c.Message = fmt.Sprintf("slot %s was written%s and is tried at the next boot; %s", s.LastSlot, writtenVersion(s), running)
	case s.Trial != "" || s.Last == eventTried:
		c.Status, c.Reason = v1.ConditionUnknown, updateOnTrial
		c.Message = fmt.Sprintf("slot %s is on trial, not committed yet (%d tries left); %s", firstOf(s.Trial, s.LastSlot), s.TriesLeft, running)
	case s.Last == eventFellBack:
		c.Status, c.Reason = v1.ConditionFalse, updateRolledBack
		c.Message = fmt.Sprintf("slot %s failed its trial and the gateway rolled back; %s", s.LastSlot, running)
	default: // built, committed, or invalidated: an update of the other slot that did not complete
		c.Status, c.Reason, c.Message = v1.ConditionTrue, updateCommitted, running
	}
	if o := s.LastUpdate; o != nil && o.Error != "" && o.current(s.Seq, since) {
		c.Message += "; last update refused: " + o.Error
	}
	c.Message = clip(c.Message)
	return c
}

// current says whether the outcome still describes a slot state at seq:
// by the seq the service recorded with it, or, for a file without one,
// by its time against when the state was last seen to change.
func (o *UpdateOutcome) current(seq uint64, since time.Time) bool {
	if o.Seq != 0 {
		return o.Seq == seq
	}
	return since.IsZero() || o.Time.After(since)
}

// writtenVersion names the version written into the armed slot, when the
// last update is the one that wrote it.
func writtenVersion(s UpdateStatus) string {
	o := s.LastUpdate
	if o == nil || o.Error != "" || o.Slot != s.LastSlot || o.Version == "" {
		return ""
	}
	return fmt.Sprintf(" with version %s (build %d)", o.Version, o.Build)
}

// firstOf returns a, or b when a is empty.
func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// maxConditionMessage bounds a message built from the file's text.
const maxConditionMessage = 1024

func clip(s string) string {
	if len(s) <= maxConditionMessage {
		return s
	}
	return strings.ToValidUTF8(s[:maxConditionMessage], "") + "…"
}
