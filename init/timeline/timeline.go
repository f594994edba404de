// Package timeline records the steps of a boot, each with when it began
// and ended in time since the kernel started (CLOCK_BOOTTIME), so a slow
// boot shows which step grew. Steps may overlap: those that run in
// parallel each keep their own start and end.
//
// init prints the finished timeline on the console as one line (see Line)
// and keeps the last boots' timelines on /var (see Save).
package timeline

import (
	"sort"
	"sync"
	"time"
)

// Step is one step of the boot. End is zero until the step ended (Done).
type Step struct {
	Name  string
	Start time.Duration // since the kernel started
	End   time.Duration
	Done  bool
}

// Duration is how long the step took; zero while it runs.
func (s Step) Duration() time.Duration {
	if !s.Done {
		return 0
	}
	return s.End - s.Start
}

// Clock tells the time since the kernel started.
type Clock func() time.Duration

// Timeline collects the steps of one boot. It is safe for concurrent use:
// the boot's parallel parts record into the same timeline.
type Timeline struct {
	now Clock

	mu    sync.Mutex
	steps []Step
	index map[string]int
	// expected are steps that must end before the timeline is complete,
	// begun or not yet.
	expected map[string]bool
	// armed: every expected step is declared (AllExpected), so the
	// timeline may complete.
	armed    bool
	complete chan struct{} // closed once armed and every step ended
	closed   bool
}

// New returns an empty timeline reading the time from now.
func New(now Clock) *Timeline {
	return &Timeline{now: now, index: map[string]int{}, expected: map[string]bool{}, complete: make(chan struct{})}
}

// Add records a step whose start and end are already known (the kernel's,
// which ends when init runs). A step of that name already recorded is
// left as it was.
func (t *Timeline) Add(name string, start, end time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.index[name]; ok {
		return
	}
	t.index[name] = len(t.steps)
	t.steps = append(t.steps, Step{Name: name, Start: start, End: end, Done: true})
	t.checkComplete()
}

// Begin starts the step name now. Only a step's first start counts: a
// service that restarts before it is healthy keeps its first start.
func (t *Timeline) Begin(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.index[name]; ok {
		return
	}
	t.index[name] = len(t.steps)
	t.steps = append(t.steps, Step{Name: name, Start: t.now()})
}

// End ends the step name now; a step not begun, or ended already, is left
// as it is.
func (t *Timeline) End(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.index[name]
	if !ok || t.steps[i].Done {
		return
	}
	t.steps[i].End, t.steps[i].Done = t.now(), true
	t.checkComplete()
}

// Span begins the step name and returns what ends it.
func (t *Timeline) Span(name string) (end func()) {
	t.Begin(name)
	return func() { t.End(name) }
}

// Expect declares steps the timeline is not complete without, begun or
// not: a service that has not started yet is still to come.
func (t *Timeline) Expect(names ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, n := range names {
		t.expected[n] = true
	}
}

// AllExpected says every step to wait for is now begun or expected: from
// here on the timeline completes once they all ended. Before, it cannot:
// the boot may not have declared its services yet.
func (t *Timeline) AllExpected() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.armed = true
	t.checkComplete()
}

// Drop forgets a step that turned out not to happen in this boot (an
// edge agent with no cloud configured never connects), recorded or only
// expected.
func (t *Timeline) Drop(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.expected, name)
	if i, ok := t.index[name]; ok {
		t.steps = append(t.steps[:i], t.steps[i+1:]...)
		delete(t.index, name)
		for n, j := range t.index {
			if j > i {
				t.index[n] = j - 1
			}
		}
	}
	t.checkComplete()
}

// checkComplete closes complete once the timeline is armed and every
// expected step and every begun step ended. t.mu is held.
func (t *Timeline) checkComplete() {
	if t.closed || !t.armed {
		return
	}
	for n := range t.expected {
		i, ok := t.index[n]
		if !ok || !t.steps[i].Done {
			return
		}
	}
	for _, s := range t.steps {
		if !s.Done {
			return
		}
	}
	t.closed = true
	close(t.complete)
}

// Complete is closed once AllExpected was called and every expected step
// and every begun step ended.
func (t *Timeline) Complete() <-chan struct{} { return t.complete }

// Steps returns the steps recorded so far, by start (the order they were
// begun when two start together), and the expected ones not yet begun,
// named in Missing.
func (t *Timeline) Steps() (steps []Step, missing []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	steps = append([]Step(nil), t.steps...)
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].Start < steps[j].Start })
	for n := range t.expected {
		if _, ok := t.index[n]; !ok {
			missing = append(missing, n)
		}
	}
	sort.Strings(missing)
	return steps, missing
}
