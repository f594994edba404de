package nodestatus

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/dbm"
	"github.com/edgegate/edgegate/edgecore/model"
)

func conditionOf(t *testing.T, s v1.NodeStatus, typ v1.NodeConditionType) v1.NodeCondition {
	t.Helper()
	c := findCondition(&s, typ)
	if c == nil {
		t.Fatalf("no %s condition in %v", typ, s.Conditions)
	}
	return *c
}

// testMachine measures the real host, with init's marker and the store
// where the test puts them.
func testMachine(t *testing.T) Machine {
	dir := t.TempDir()
	return Machine{
		FSPath: dir, StateDir: dir,
		DegradedVarFile:      filepath.Join(dir, "run", "degraded", "var"),
		DegradedFirewallFile: filepath.Join(dir, "run", "degraded", "firewall"),
		StorePath:            filepath.Join(dir, "edgecore.db"),
	}
}

// DataPartitionDegraded and FirewallDegraded follow init's markers:
// absent, all is well; present, its first line is the message, and a
// marker without a reason or that cannot be read still means degraded.
// Each condition follows its own marker only.
func TestDegradedConditions(t *testing.T) {
	parts := []struct {
		typ                  v1.NodeConditionType
		marker               func(Machine) string
		trueReason, okReason string
		okMsg                string
	}{
		{DataPartitionDegraded, func(m Machine) string { return m.DegradedVarFile }, "VarOnTmpfs", "VarOnDataPartition", "/var is on the data partition"},
		{FirewallDegraded, func(m Machine) string { return m.DegradedFirewallFile }, "FirewallNotInstalled", "FirewallInstalled", "no fault of the input filter"},
	}
	tests := []struct {
		name    string
		marker  func(t *testing.T, path string)
		faulty  bool
		wantMsg string
	}{
		{"no marker", func(*testing.T, string) {}, false, ""},
		{"marker with a reason", func(t *testing.T, path string) {
			writeMarker(t, path, "e2fsck exited 8 (operational error) three times\nsecond line\n")
		}, true, "e2fsck exited 8 (operational error) three times"},
		{"empty marker", func(t *testing.T, path string) { writeMarker(t, path, "") }, true, "gives no reason"},
		{"marker that cannot be read", func(t *testing.T, path string) {
			if err := os.MkdirAll(path, 0o755); err != nil { // a directory: reading fails
				t.Fatal(err)
			}
		}, true, "cannot be read"},
	}
	for _, part := range parts {
		for _, tt := range tests {
			t.Run(string(part.typ)+"/"+tt.name, func(t *testing.T) {
				m := testMachine(t)
				tt.marker(t, part.marker(m))
				f, err := m.Facts()
				if err != nil {
					t.Fatal(err)
				}
				status := builder().Status(f, nil, time.Now())
				for _, other := range parts {
					c := conditionOf(t, status, other.typ)
					wantStatus, wantReason, wantMsg := v1.ConditionFalse, other.okReason, other.okMsg
					if other.typ == part.typ && tt.faulty {
						wantStatus, wantReason, wantMsg = v1.ConditionTrue, other.trueReason, tt.wantMsg
					}
					if c.Status != wantStatus || c.Reason != wantReason || !strings.Contains(c.Message, wantMsg) {
						t.Errorf("%s: %s %s %q, want %s %s %q", other.typ, c.Status, c.Reason, c.Message, wantStatus, wantReason, wantMsg)
					}
				}
			})
		}
	}
}

func writeMarker(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A store dbm moved aside shows in the facts and as StoreReset True,
// naming the file, the time and the reason.
func TestStoreResetFromTheStore(t *testing.T) {
	m := testMachine(t)
	f, err := m.Facts()
	if err != nil {
		t.Fatal(err)
	}
	if c := conditionOf(t, builder().Status(f, nil, time.Now()), StoreReset); c.Status != v1.ConditionFalse || c.Reason != "StoreIntact" {
		t.Fatalf("before any reset: %+v", c)
	}
	if err := os.WriteFile(m.StorePath, []byte(strings.Repeat("not bbolt", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := dbm.Open(m.StorePath, dbm.Options{ResetCorrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	r, _ := d.Reset()
	if f, err = m.Facts(); err != nil {
		t.Fatal(err)
	}
	if f.StoreReset == nil || *f.StoreReset != r {
		t.Fatalf("facts report %+v, want %+v", f.StoreReset, r)
	}
	c := conditionOf(t, builder().Status(f, nil, time.Now()), StoreReset)
	if c.Status != v1.ConditionTrue || c.Reason != "StoreCorrupt" || !strings.Contains(c.Message, r.MovedTo) ||
		!strings.Contains(c.Message, r.At.Format(time.RFC3339)) || !strings.Contains(c.Message, r.Reason) {
		t.Fatalf("condition %+v, want True naming %s", c, r.MovedTo)
	}
}

// StoreReset stays True for StoreResetFor after the cloud first got it,
// however long the gateway was offline before; then False, still naming
// the kept file; a new reset starts over. The cloud's copy carries that
// state across restarts of edgecore.
func TestStoreResetLifetime(t *testing.T) {
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	r1 := &dbm.Reset{Store: "/var/lib/kubeedge/edgecore.db", MovedTo: "/var/lib/kubeedge/edgecore.db.corrupt-20260501T080000Z", At: at, Reason: "checksum error"}
	r2 := &dbm.Reset{Store: r1.Store, MovedTo: r1.Store + ".corrupt-20260503T080000Z", At: at.Add(48 * time.Hour), Reason: "invalid database"}
	b := builder()
	b.storeResetFor = 24 * time.Hour
	f := healthyFacts()
	status := func(r *dbm.Reset, prev *v1.NodeStatus, now time.Time) v1.NodeStatus {
		f.StoreReset = r
		return b.Status(f, prev, now)
	}
	reset := func(s v1.NodeStatus) v1.NodeCondition { return conditionOf(t, s, StoreReset) }

	// Offline for three days after the reset: the first report is True.
	firstSeen := at.Add(72 * time.Hour)
	s1 := status(r1, nil, firstSeen)
	if c := reset(s1); c.Status != v1.ConditionTrue || !c.LastTransitionTime.Time.Equal(firstSeen) {
		t.Fatalf("first report %+v, want True from %v", c, firstSeen)
	}
	// A day less a minute later (edgecore restarted meanwhile: only the
	// cloud's copy is left): still True, since the same moment.
	s2 := status(r1, &s1, firstSeen.Add(24*time.Hour-time.Minute))
	if c := reset(s2); c.Status != v1.ConditionTrue || !c.LastTransitionTime.Time.Equal(firstSeen) {
		t.Fatalf("within the day %+v", c)
	}
	// A day after the cloud got it: False, the kept file still named.
	s3 := status(r1, &s2, firstSeen.Add(24*time.Hour))
	if c := reset(s3); c.Status != v1.ConditionFalse || c.Reason != "StoreIntact" || !strings.Contains(c.Message, r1.MovedTo) {
		t.Fatalf("after the day %+v", c)
	}
	// And it stays False for the same reset, a month on.
	s4 := status(r1, &s3, firstSeen.Add(30*24*time.Hour))
	if c := reset(s4); c.Status != v1.ConditionFalse || !c.LastTransitionTime.Time.Equal(reset(s3).LastTransitionTime.Time) {
		t.Fatalf("a month on %+v", c)
	}
	// A new reset, while the old one is still reported: True again, from now.
	now := firstSeen.Add(2 * time.Hour)
	s5 := status(r2, &s1, now)
	if c := reset(s5); c.Status != v1.ConditionTrue || !strings.Contains(c.Message, r2.MovedTo) || !c.LastTransitionTime.Time.Equal(now) {
		t.Fatalf("a second reset %+v, want True from %v naming %s", c, now, r2.MovedTo)
	}
}

// fakeCloud answers the reporter's requests as metamanager would with the
// link up: a node insert with the node, anything else "not connected".
type fakeCloud struct {
	mu      sync.Mutex
	created chan v1.Node
}

func (c *fakeCloud) SendSync(_ string, msg model.Message, _ time.Duration) (model.Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if msg.Operation() != model.InsertOperation || model.ResourceType(msg.Resource()) != model.ResourceTypeNode {
		return *model.NewErrorMessage(&msg, "not connected"), nil
	}
	data, err := msg.ContentData()
	if err != nil {
		return model.Message{}, err
	}
	var n v1.Node
	if err := json.Unmarshal(data, &n); err != nil {
		return model.Message{}, err
	}
	select {
	case c.created <- n:
	default:
	}
	return *model.NewRespByMessage(&msg, map[string]any{"Object": n}), nil
}

func (c *fakeCloud) Receive(ctx context.Context, _ string) (model.Message, error) {
	<-ctx.Done()
	return model.Message{}, ctx.Err()
}

// The node edgecore registers carries both gateway conditions: the cloud
// sees /var on tmpfs and a store reset from the first request.
func TestRegisteredNodeCarriesGatewayConditions(t *testing.T) {
	m := testMachine(t)
	writeMarker(t, m.DegradedVarFile, "the data partition failed to mount: EIO\n")
	if err := os.WriteFile(m.StorePath, []byte(strings.Repeat("not bbolt", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := dbm.Open(m.StorePath, dbm.Options{ResetCorrupt: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cloud := &fakeCloud{created: make(chan v1.Node, 1)}
	r := New(Config{Enable: true, NodeName: "gw-1", Machine: m, Timeout: time.Second}, cloud)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case n := <-cloud.created:
		if c := conditionOf(t, n.Status, DataPartitionDegraded); c.Status != v1.ConditionTrue || c.Reason != "VarOnTmpfs" || c.Message != "the data partition failed to mount: EIO" {
			t.Errorf("registered with %+v", c)
		}
		if c := conditionOf(t, n.Status, StoreReset); c.Status != v1.ConditionTrue || !strings.Contains(c.Message, m.StorePath+".corrupt-") {
			t.Errorf("registered with %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the node was not registered")
	}
}
