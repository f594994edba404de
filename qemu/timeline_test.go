package qemu

import (
	"cmp"
	"encoding/json"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/edgegate/edgegate/init/timeline"
)

// timelineLine matches init's boot timeline on the console: one line,
// printed once every step of the boot ended.
var timelineLine = regexp.MustCompile(`edgegate: (timeline [^\r\n]*)\r?\n`)

// bootSteps are the steps every boot's timeline has, whatever runs on the
// gateway (the services add theirs).
var bootSteps = []string{"kernel", "init", "mounts", "modules", "devices", "growpart", "data", "growfs", "config", "firewall", "link", "lease", "clock"}

// waitTimeline waits for the boot's timeline line on m's console, wherever
// it is (it comes once every step ended, among the services' lines), and
// parses it.
func waitTimeline(t testing.TB, m *Machine, d time.Duration) (line string, steps []timeline.Step) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if sub := timelineLine.FindStringSubmatch(m.Console.String()); sub != nil {
			steps, missing, err := timeline.ParseLine(sub[1])
			if err != nil {
				t.Fatalf("%v\n--- console tail ---\n%s", err, tail(m.Console.String(), 4000))
			}
			if len(missing) > 0 {
				t.Fatalf("timeline says steps %v never began: %s", missing, sub[1])
			}
			return sub[1], steps
		}
		if time.Now().After(deadline) {
			t.Fatalf("no boot timeline on the console within %v\n--- console tail ---\n%s", d, tail(m.Console.String(), 6000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkTimeline requires every step of want in the timeline, each with
// a start and a duration, ordered as the boot runs them, within the
// kernel's and init's time.
func checkTimeline(t testing.TB, line string, steps []timeline.Step, want ...string) {
	t.Helper()
	t.Logf("%s", line)
	byName := map[string]timeline.Step{}
	for _, s := range steps {
		if !s.Done {
			t.Errorf("step %s has no duration: %s", s.Name, line)
		}
		byName[s.Name] = s
	}
	for _, n := range append(slices.Clone(bootSteps), want...) {
		if _, ok := byName[n]; !ok {
			t.Errorf("no step %s in the timeline: %s", n, line)
		}
	}
	kernel, init := byName["kernel"], byName["init"]
	if kernel.Start != 0 || kernel.End <= 0 || init.Start < kernel.End {
		t.Errorf("the kernel step %v..%v does not run from the kernel's start to init's %v: %s", kernel.Start, kernel.End, init.Start, line)
	}
	for _, n := range []string{"modules", "data", "firewall"} {
		if s := byName[n]; s.Start < init.Start || s.End > init.End {
			t.Errorf("step %s (%v..%v) is outside init's boot sequence (%v..%v): %s", n, s.Start, s.End, init.Start, init.End, line)
		}
	}
	if byName["data"].Start < byName["modules"].End {
		t.Errorf("the data partition was checked before its modules loaded: %s", line)
	}
	// The services start once /var and the packet filter are there,
	// without waiting for the uplink's lease.
	if c, ok := byName["service:containerd"]; ok {
		if c.Start < byName["firewall"].End || c.Start < byName["data"].End {
			t.Errorf("containerd started before /var and the packet filter were ready: %s", line)
		}
		if c.Start > byName["lease"].End {
			t.Errorf("containerd waited for the DHCP lease: %s", line)
		}
	}
}

// checkTimelineHistory reads the boot timelines kept on the data
// partition part and requires the last boots' ones, newest last.
func checkTimelineHistory(t *testing.T, part string, boots int, lastLine string) {
	t.Helper()
	raw := debugfsCat(t, part, "/lib/edgegate/boot-timeline.json")
	var h timeline.History
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		t.Fatalf("boot timeline history on /var: %v\n%s", err, raw)
	}
	if len(h.Boots) != boots {
		t.Fatalf("history holds %d boots, want %d:\n%s", len(h.Boots), boots, raw)
	}
	last := h.Boots[len(h.Boots)-1]
	steps, _, err := timeline.ParseLine(lastLine)
	if err != nil {
		t.Fatal(err)
	}
	if !last.Complete || last.BootID == "" || len(last.Steps) != len(steps) {
		t.Errorf("last boot kept as %+v; its console line: %s", last, lastLine)
	}
	for i, s := range last.Steps {
		if s.Name != steps[i].Name || s.StartMs != steps[i].Start.Milliseconds() || s.EndMs == nil {
			t.Errorf("kept step %+v, console step %+v", s, steps[i])
		}
	}
	if h.Boots[0].BootID == last.BootID && boots > 1 {
		t.Errorf("two boots with one boot ID %s", last.BootID)
	}
}

// expectAnyOrder waits until every pattern matched somewhere on the
// console of this boot, in any order, and returns each one's submatches.
// The console's cursor stays where it was: lines that come in any order
// cannot move it.
func expectAnyOrder(t testing.TB, m *Machine, patterns ...string) [][]string {
	t.Helper()
	res := make([][]string, len(patterns))
	deadline := time.Now().Add(bootTimeout)
	for {
		out := m.Console.String()
		missing := 0
		for i, p := range patterns {
			if res[i] == nil {
				res[i] = regexp.MustCompile(p).FindStringSubmatch(out)
			}
			if res[i] == nil {
				missing++
			}
		}
		if missing == 0 {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("console did not show all of %q within %v\n--- console tail ---\n%s", patterns, bootTimeout, tail(out, 6000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// medianTimelineMark starts the log line that carries a benchmark's median
// boot timeline to cmd/benchreport: the mark, the board, the line.
const medianTimelineMark = "median-boot-timeline"

// logMedianTimeline logs the timeline of the boot whose time is the median
// of secs (timelines[i] is boot i's).
func logMedianTimeline(b *testing.B, board string, secs []float64, timelines []string) {
	b.Helper()
	if len(secs) == 0 || len(secs) != len(timelines) {
		b.Fatalf("%d boot times for %d timelines", len(secs), len(timelines))
	}
	idx := make([]int, len(secs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(secs[i], secs[j]) })
	b.Logf("%s %s %s", medianTimelineMark, board, timelines[idx[len(idx)/2]])
}
