package boot

import (
	"context"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/edgegate/edgegate/init/timeline"
)

// timelineDeadline bounds the wait for every step of the boot to end
// (services healthy, the cloud link up): a boot with a service that never
// becomes healthy still gets its timeline printed and kept, with that step
// marked unfinished.
const timelineDeadline = 5 * time.Minute

// bootTimeline records this boot's steps; see init/timeline.
type bootTimeline struct {
	*timeline.Timeline
	// writeOnce prints and keeps the timeline once per boot.
	writeOnce sync.Once
	// cloudWatch starts the one watch for edgecore's first connection.
	cloudWatch sync.Once
}

// newBootTimeline starts the timeline with the kernel's step: from the
// kernel's start to handoff, when it ran the first program (the kernel
// decompressed, the initramfs unpacked).
func newBootTimeline(handoff time.Time) *bootTimeline {
	t := &bootTimeline{Timeline: timeline.New(timeline.SinceKernelStart)}
	t.Add("kernel", 0, timeline.SinceKernelStart()-time.Since(handoff))
	return t
}

// finishTimeline waits until every step ended (or the deadline passed),
// then prints and keeps the timeline.
func (s *System) finishTimeline(ctx context.Context) {
	select {
	case <-s.timeline.Complete():
	case <-time.After(timelineDeadline):
	case <-ctx.Done():
		return // Stop writes it, before /var is unmounted
	}
	s.writeTimeline()
}

// writeTimeline prints the timeline as one console line and appends it to
// the history on /var, once per boot, complete or not.
func (s *System) writeTimeline() {
	s.timeline.writeOnce.Do(func() {
		steps, missing := s.timeline.Steps()
		s.Console.Say("%s", timeline.Line(steps, missing))
		b := timeline.NewBoot(bootID(), time.Now().UTC(), steps, missing)
		aside, err := timeline.Append(timeline.DefaultPath, b, timeline.DefaultKeep)
		if aside != "" {
			s.Console.Say("boot timeline: %s was unreadable; kept as %s, a new history begun", timeline.DefaultPath, aside)
		}
		if err != nil {
			s.Console.Say("%v", err)
		}
	})
}

// bootID is the kernel's random ID of this boot.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// step runs f as the timeline step name.
func (s *System) step(name string, f func()) {
	defer s.timeline.Span(name)()
	f()
}

// timeLink records the step "link": from now until iface is up with a
// carrier, as the kernel reports it in sysfs. Polled, since it is short
// and ends the watch; a link that stays down ends it at the deadline.
func (s *System) timeLink(ctx context.Context, iface string) {
	end := s.timeline.Span("link")
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(timelineDeadline)
		for !operUp("/sys/class/net/" + iface + "/operstate") {
			select {
			case <-ctx.Done():
				return
			case <-deadline:
				return
			case <-tick.C:
			}
		}
		end()
	}()
}

// operUp reports whether an operstate file says "up".
func operUp(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.TrimSpace(string(b)) == "up"
}
