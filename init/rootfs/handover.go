package rootfs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HandoverEnv is the environment variable in which the initramfs tells
// the root's init what it did and when: its steps, in time since the
// kernel started, for the boot timeline.
const HandoverEnv = "EDGEGATE_INITRAMFS"

// Step is one step of the initramfs, in time since the kernel started.
type Step struct {
	Name       string
	Start, End time.Duration
}

// Handover is what the initramfs hands to the root's init.
type Handover struct {
	// Started is when the initramfs's init began: the kernel's handoff.
	Started time.Duration
	Steps   []Step
}

// Env renders h as the value of HandoverEnv: "start=0.812
// modules=0.812-1.203 root=1.203-1.530", seconds with millisecond
// precision.
func (h Handover) Env() string {
	var b strings.Builder
	fmt.Fprintf(&b, "start=%.3f", h.Started.Seconds())
	for _, s := range h.Steps {
		fmt.Fprintf(&b, " %s=%.3f-%.3f", s.Name, s.Start.Seconds(), s.End.Seconds())
	}
	return b.String()
}

// ParseHandover reads what Env wrote.
func ParseHandover(v string) (Handover, error) {
	var h Handover
	seen := false
	for _, f := range strings.Fields(v) {
		name, val, ok := strings.Cut(f, "=")
		if !ok {
			return Handover{}, fmt.Errorf("%s: %q is not name=value", HandoverEnv, f)
		}
		if name == "start" {
			d, err := seconds(val)
			if err != nil {
				return Handover{}, fmt.Errorf("%s: start: %w", HandoverEnv, err)
			}
			h.Started, seen = d, true
			continue
		}
		from, to, ok := strings.Cut(val, "-")
		start, err1 := seconds(from)
		end, err2 := seconds(to)
		if !ok || err1 != nil || err2 != nil || end < start {
			return Handover{}, fmt.Errorf("%s: step %s: %q is not start-end in seconds", HandoverEnv, name, val)
		}
		h.Steps = append(h.Steps, Step{Name: name, Start: start, End: end})
	}
	if !seen {
		return Handover{}, fmt.Errorf("%s: %q has no start", HandoverEnv, v)
	}
	return h, nil
}

func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond), nil
}
