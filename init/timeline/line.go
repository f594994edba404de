package timeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LineWord is the first word of a timeline's console line.
const LineWord = "timeline"

// Line is the console line of a timeline: "timeline" and then every step
// as name=START+DURATION in milliseconds since the kernel started, in the
// order the steps began, e.g.
//
//	timeline kernel=0+1534 modules=1536+812 service:containerd=2650+3120
//
// A step still running shows "+?" for its duration and an expected step
// that never began "?" alone, so an incomplete boot says what is missing.
func Line(steps []Step, missing []string) string {
	var b strings.Builder
	b.WriteString(LineWord)
	for _, s := range steps {
		fmt.Fprintf(&b, " %s=%d+", s.Name, s.Start.Milliseconds())
		if s.Done {
			b.WriteString(strconv.FormatInt(s.Duration().Milliseconds(), 10))
		} else {
			b.WriteString("?")
		}
	}
	for _, n := range missing {
		fmt.Fprintf(&b, " %s=?", n)
	}
	return b.String()
}

// ParseLine reads a line Line wrote (what follows "timeline " on the
// console). Steps that never began come back in missing; steps still
// running come back with Done false.
func ParseLine(s string) (steps []Step, missing []string, err error) {
	fields := strings.Fields(s)
	if len(fields) == 0 || fields[0] != LineWord {
		return nil, nil, fmt.Errorf("timeline line %q: does not start with %q", s, LineWord)
	}
	for _, f := range fields[1:] {
		name, val, ok := strings.Cut(f, "=")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("timeline step %q: want name=START+DURATION", f)
		}
		if val == "?" {
			missing = append(missing, name)
			continue
		}
		st, err := parseStep(name, val)
		if err != nil {
			return nil, nil, err
		}
		steps = append(steps, st)
	}
	return steps, missing, nil
}

func parseStep(name, val string) (Step, error) {
	start, dur, ok := strings.Cut(val, "+")
	if !ok {
		return Step{}, fmt.Errorf("timeline step %s=%s: want START+DURATION in ms", name, val)
	}
	ms, err := strconv.ParseInt(start, 10, 64)
	if err != nil || ms < 0 {
		return Step{}, fmt.Errorf("timeline step %s=%s: start %q is not a number of ms", name, val, start)
	}
	st := Step{Name: name, Start: time.Duration(ms) * time.Millisecond}
	if dur == "?" {
		return st, nil
	}
	d, err := strconv.ParseInt(dur, 10, 64)
	if err != nil || d < 0 {
		return Step{}, fmt.Errorf("timeline step %s=%s: duration %q is not a number of ms", name, val, dur)
	}
	st.End, st.Done = st.Start+time.Duration(d)*time.Millisecond, true
	return st, nil
}
