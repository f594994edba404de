package nodestatus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// updateMachine is testMachine with the update service's outcome file.
func updateMachine(t *testing.T) Machine {
	m := testMachine(t)
	m.UpdateStatusFile = filepath.Join(t.TempDir(), "update", "status.json")
	return m
}

// A status file as the update service writes it (Status minus update).
const (
	committedB = `{"board":"qemu-arm64","version":"1.3.0","build":43,"running":"b","active":"b","triesLeft":0,
		"last":"committed","lastSlot":"b","seq":7,"fingerprint":"ab12",
		"lastUpdate":{"time":"2026-11-29T10:00:00Z","version":"1.3.0","build":43,"slot":"b"}}`
	builtA = `{"board":"qemu-arm64","version":"1.2.0","build":42,"running":"a","active":"a","triesLeft":0,
		"last":"built","lastSlot":"a","seq":1,"fingerprint":"ab12"}`
	invalidatedB = `{"board":"qemu-arm64","version":"1.2.0","build":42,"running":"a","active":"a","triesLeft":0,
		"last":"invalidated","lastSlot":"b","seq":2,"fingerprint":"ab12",
		"lastUpdate":{"time":"2026-11-29T10:00:00Z","version":"1.3.0","build":43,"slot":"b",
		"error":"slot b read back with sha256 00ff, want 11ee","reason":"read-back"}}`
	refusedA = `{"board":"qemu-arm64","version":"1.2.0","build":42,"running":"a","active":"a","triesLeft":0,
		"last":"built","lastSlot":"a","seq":1,"fingerprint":"ab12",
		"lastUpdate":{"time":"2026-11-29T10:00:00Z","error":"bundle signed by unknown key 5c1f","reason":"unknown-key"}}`
	armedB = `{"board":"qemu-arm64","version":"1.2.0","build":42,"running":"a","active":"a","trial":"b","triesLeft":1,
		"last":"armed","lastSlot":"b","seq":3,"fingerprint":"ab12",
		"lastUpdate":{"time":"2026-11-29T10:00:00Z","version":"1.3.0","build":43,"slot":"b"}}`
	onTrialB = `{"board":"qemu-arm64","version":"1.3.0","build":43,"running":"b","active":"a","trial":"b","triesLeft":0,
		"last":"tried","lastSlot":"b","seq":4,"fingerprint":"ab12",
		"lastUpdate":{"time":"2026-11-29T10:00:00Z","version":"1.3.0","build":43,"slot":"b"}}`
	fellBackB = `{"board":"qemu-arm64","version":"1.2.0","build":42,"running":"a","active":"a","triesLeft":0,
		"last":"fell-back","lastSlot":"b","seq":5,"fingerprint":"ab12",
		"lastUpdate":{"time":"2026-11-29T10:00:00Z","version":"1.3.0","build":43,"slot":"b"}}`
)

// TestUpdateCondition: the outcome file, as read at a status update, and
// the EdgegateUpdate condition it gives; the other conditions are there
// and the same whatever the file says.
func TestUpdateCondition(t *testing.T) {
	tests := []struct {
		name string
		file *string // nil: no file
		dir  bool    // a directory where the file should be
		// want: no condition when status is empty.
		status       v1.ConditionStatus
		reason       string
		msg, without []string
	}{
		{name: "no file"},
		{name: "committed", file: ptr(committedB), status: v1.ConditionTrue, reason: "Committed",
			msg: []string{"slot b runs version 1.3.0 (build 43)"}, without: []string{"refused"}},
		{name: "as built", file: ptr(builtA), status: v1.ConditionTrue, reason: "Committed",
			msg: []string{"slot a runs version 1.2.0 (build 42)"}},
		{name: "update of the other slot failed", file: ptr(invalidatedB), status: v1.ConditionTrue, reason: "Committed",
			msg: []string{"slot a runs version 1.2.0 (build 42)", "last update refused: slot b read back with sha256 00ff, want 11ee"}},
		{name: "update refused before writing", file: ptr(refusedA), status: v1.ConditionTrue, reason: "Committed",
			msg: []string{"slot a runs version 1.2.0 (build 42); last update refused: bundle signed by unknown key 5c1f"}},
		{name: "armed", file: ptr(armedB), status: v1.ConditionUnknown, reason: "UpdateInProgress",
			msg: []string{"slot b was written with version 1.3.0 (build 43) and is tried at the next boot", "slot a runs version 1.2.0 (build 42)"}},
		{name: "on trial", file: ptr(onTrialB), status: v1.ConditionUnknown, reason: "OnTrial",
			msg: []string{"slot b is on trial, not committed yet", "slot b runs version 1.3.0 (build 43)"}},
		{name: "fell back", file: ptr(fellBackB), status: v1.ConditionFalse, reason: "RolledBack",
			msg: []string{"slot b failed its trial", "slot a runs version 1.2.0 (build 42)"}},
		{name: "malformed JSON", file: ptr(`{"running":"a","last":"committed"`), status: v1.ConditionUnknown, reason: "StatusUnreadable",
			msg: []string{"status.json cannot be used", "unexpected end of JSON input"}},
		{name: "wrong types", file: ptr(`{"version":"1.2.0","build":"42","running":"a","last":"committed"}`), status: v1.ConditionUnknown,
			reason: "StatusUnreadable", msg: []string{"build", "cannot unmarshal string"}},
		{name: "not an object", file: ptr(`["a"]`), status: v1.ConditionUnknown, reason: "StatusUnreadable", msg: []string{"cannot unmarshal array"}},
		{name: "empty file", file: ptr(""), status: v1.ConditionUnknown, reason: "StatusUnreadable", msg: []string{"the file is empty"}},
		{name: "null", file: ptr("null"), status: v1.ConditionUnknown, reason: "StatusUnreadable", msg: []string{`running slot "" is not a or b`}},
		{name: "unknown event", file: ptr(strings.Replace(builtA, `"built"`, `"exploded"`, 1)), status: v1.ConditionUnknown,
			reason: "StatusUnreadable", msg: []string{`unknown last event "exploded"`}},
		{name: "bad slot", file: ptr(strings.Replace(builtA, `"running":"a"`, `"running":"c"`, 1)), status: v1.ConditionUnknown,
			reason: "StatusUnreadable", msg: []string{`running slot "c" is not a or b`}},
		{name: "too large", file: ptr(`{"pad":"` + strings.Repeat("x", maxUpdateStatusFile) + `"}`), status: v1.ConditionUnknown,
			reason: "StatusUnreadable", msg: []string{"larger than"}},
		{name: "cannot be read", dir: true, status: v1.ConditionUnknown, reason: "StatusUnreadable", msg: []string{"cannot be used", "is a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := updateMachine(t)
			switch {
			case tt.file != nil:
				writeMarker(t, m.UpdateStatusFile, *tt.file)
			case tt.dir:
				if err := os.MkdirAll(m.UpdateStatusFile, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			f, err := m.Facts()
			if err != nil {
				t.Fatal(err)
			}
			b := builder()
			b.update.log = func(bool, string) {}
			status := b.Status(f, nil, time.Now())
			want := map[v1.NodeConditionType]v1.ConditionStatus{DataPartitionDegraded: v1.ConditionFalse, FirewallDegraded: v1.ConditionFalse,
				StoreReset: v1.ConditionFalse, v1.NodeMemoryPressure: "", v1.NodeDiskPressure: "", v1.NodePIDPressure: "", v1.NodeReady: v1.ConditionTrue}
			for typ, s := range want {
				if c := conditionOf(t, status, typ); s != "" && c.Status != s {
					t.Errorf("%s is %s, want %s", typ, c.Status, s)
				}
			}
			c := findCondition(&status, EdgegateUpdate)
			if tt.status == "" {
				if c != nil {
					t.Fatalf("condition %+v without a status file", *c)
				}
				if len(status.Conditions) != len(want) {
					t.Fatalf("conditions %+v", status.Conditions)
				}
				return
			}
			if c == nil {
				t.Fatalf("no %s condition in %+v", EdgegateUpdate, status.Conditions)
			}
			if c.Status != tt.status || c.Reason != tt.reason {
				t.Errorf("%s %s %q, want %s %s", c.Status, c.Reason, c.Message, tt.status, tt.reason)
			}
			for _, w := range tt.msg {
				if !strings.Contains(c.Message, w) {
					t.Errorf("message %q lacks %q", c.Message, w)
				}
			}
			for _, w := range tt.without {
				if strings.Contains(c.Message, w) {
					t.Errorf("message %q has %q", c.Message, w)
				}
			}
			if len(c.Message) > maxConditionMessage+len("…") {
				t.Errorf("message of %d bytes", len(c.Message))
			}
		})
	}
}

func ptr(s string) *string { return &s }

// updateTicks runs status updates over one builder as the reporter does:
// each against the status the last one made.
type updateTicks struct {
	t    *testing.T
	m    Machine
	b    *nodeBuilder
	prev *v1.NodeStatus
	now  time.Time
	logs []string
}

func newUpdateTicks(t *testing.T) *updateTicks {
	u := &updateTicks{t: t, m: updateMachine(t), b: builder(), now: time.Date(2026, 11, 29, 10, 0, 30, 0, time.UTC)}
	u.b.update.log = func(warning bool, line string) {
		u.logs = append(u.logs, map[bool]string{true: "W ", false: "I "}[warning]+line)
	}
	return u
}

// tick writes content (unless nil) and runs one status update 10 s on.
func (u *updateTicks) tick(content *string) v1.NodeCondition {
	u.t.Helper()
	if content != nil {
		writeMarker(u.t, u.m.UpdateStatusFile, *content)
	}
	u.now = u.now.Add(10 * time.Second)
	f, err := u.m.Facts()
	if err != nil {
		u.t.Fatal(err)
	}
	s := u.b.Status(f, u.prev, u.now)
	u.prev = &s
	for _, c := range s.Conditions {
		if !c.LastHeartbeatTime.Time.Equal(u.now) {
			u.t.Errorf("%s heartbeat %v, want %v", c.Type, c.LastHeartbeatTime, u.now)
		}
	}
	return conditionOf(u.t, s, EdgegateUpdate)
}

// lastTransitionTime stays while status and reason stay (the message may
// change: a refused update is added to it), and moves when either changes,
// Unknown → Unknown included.
func TestUpdateConditionTransitions(t *testing.T) {
	u := newUpdateTicks(t)
	first := u.tick(ptr(builtA))
	start := first.LastTransitionTime
	if c := u.tick(nil); !c.LastTransitionTime.Equal(&start) {
		t.Fatalf("transition moved on an unchanged file: %v → %v", start, c.LastTransitionTime)
	}
	if c := u.tick(ptr(strings.Replace(invalidatedB, "2026-11-29T10:00:00Z", u.now.Add(time.Second).Format(time.RFC3339), 1))); c.Reason != "Committed" ||
		!c.LastTransitionTime.Equal(&start) || !strings.Contains(c.Message, "refused") {
		t.Fatalf("after a failed update: %+v, want Committed since %v with the failure", c, start)
	}
	armed := u.tick(ptr(armedB))
	if armed.Reason != "UpdateInProgress" || armed.LastTransitionTime.Equal(&start) {
		t.Fatalf("armed: %+v", armed)
	}
	trial := u.tick(ptr(onTrialB))
	if trial.Reason != "OnTrial" || trial.LastTransitionTime.Equal(&armed.LastTransitionTime) {
		t.Fatalf("on trial after armed, both Unknown: %+v, want a new transition time", trial)
	}
	back := u.tick(ptr(fellBackB))
	if back.Status != v1.ConditionFalse || back.LastTransitionTime.Equal(&trial.LastTransitionTime) {
		t.Fatalf("fell back: %+v", back)
	}
	if c := u.tick(nil); !c.LastTransitionTime.Equal(&back.LastTransitionTime) {
		t.Fatalf("RolledBack transition moved on an unchanged file")
	}
	if len(u.logs) != 0 {
		t.Fatalf("logged %q for readable files", u.logs)
	}
}

// An update refused before the slot state last changed belongs to the
// state before: it is not reported against the new one. One refused after
// it is.
func TestUpdateConditionRefusalOlderThanState(t *testing.T) {
	u := newUpdateTicks(t)
	u.tick(ptr(onTrialB))
	refusedEarlier := strings.Replace(committedB, `"slot":"b"}`,
		`"slot":"","error":"slot b is on trial: commit or roll back first","reason":"on-trial"}`, 1)
	earlier := u.now.Add(-time.Second).Format(time.RFC3339)
	refusedEarlier = strings.Replace(refusedEarlier, "2026-11-29T10:00:00Z", earlier, 1)
	if c := u.tick(ptr(refusedEarlier)); c.Reason != "Committed" || strings.Contains(c.Message, "refused") {
		t.Fatalf("committed after a refusal made on trial: %+v, want no refusal", c)
	}
	refusedNow := strings.Replace(refusedEarlier, earlier, u.now.Add(time.Second).Format(time.RFC3339), 1)
	if c := u.tick(ptr(refusedNow)); !strings.Contains(c.Message, "last update refused: slot b is on trial") {
		t.Fatalf("a refusal after the commit: %+v, want it named", c)
	}
}

// An outcome that carries the slot state's seq is named exactly while the
// state is the one it left, also on the first read after edgecore starts.
func TestUpdateConditionRefusalBySeq(t *testing.T) {
	refused := strings.Replace(invalidatedB, `"reason":"read-back"}`, `"reason":"read-back","seq":2}`, 1)
	movedOn := strings.Replace(refused, `"seq":2,"fingerprint"`, `"seq":5,"fingerprint"`, 1)
	for _, tc := range []struct {
		name, file string
		named      bool
	}{
		{"state unchanged", refused, true},
		{"state moved on", movedOn, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newUpdateTicks(t).tick(ptr(tc.file))
			if got := strings.Contains(c.Message, "last update refused"); got != tc.named {
				t.Fatalf("message %q: refusal named %v, want %v", c.Message, got, tc.named)
			}
		})
	}
}

// An unreadable file is logged once when it becomes so, again when the
// problem changes, and once when it is readable again; never per update.
func TestUpdateConditionLogsChanges(t *testing.T) {
	u := newUpdateTicks(t)
	u.tick(ptr("{"))
	u.tick(nil)
	u.tick(nil)
	if len(u.logs) != 1 || !strings.HasPrefix(u.logs[0], "W ") || !strings.Contains(u.logs[0], u.m.UpdateStatusFile) {
		t.Fatalf("logs %q, want one warning naming the file", u.logs)
	}
	c := u.tick(ptr(""))
	u.tick(nil)
	if len(u.logs) != 2 || !strings.Contains(u.logs[1], "empty") || c.Reason != "StatusUnreadable" {
		t.Fatalf("logs %q, want a second warning for the new problem", u.logs)
	}
	if c := u.tick(ptr(committedB)); c.Status != v1.ConditionTrue {
		t.Fatalf("readable again: %+v", c)
	}
	u.tick(nil)
	if len(u.logs) != 3 || !strings.HasPrefix(u.logs[2], "I ") || !strings.Contains(u.logs[2], "readable again") {
		t.Fatalf("logs %q, want one line when readable again", u.logs)
	}
}
