package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/edgegate/edgegate/init/update"
)

// statusText is a gateway's status for a person.
func statusText(target string, st update.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "gateway %s: %s version %s (build %d), running slot %s\n", target, st.Board, st.Version, st.Build, st.Running)
	fmt.Fprintf(&b, "slots: %s\n", slotsLine(st))
	if p := st.Update; p != nil {
		fmt.Fprintf(&b, "update in progress: %s", p.Phase)
		if p.Total > 0 {
			fmt.Fprintf(&b, " %.1f of %.1f MiB", mib(p.Written), mib(p.Total))
		}
		b.WriteString("\n")
	}
	if o := st.LastUpdate; o != nil {
		what := fmt.Sprintf("%s (build %d)", o.Version, o.Build)
		if o.Version == "" {
			what = "a bundle"
		}
		result := "written and put on trial"
		if o.Error != "" {
			result = fmt.Sprintf("refused (%s): %s", o.Reason, o.Error)
		}
		fmt.Fprintf(&b, "last update: %s, %s for slot %s: %s\n", o.Time.Local().Format(time.DateTime), what, o.Slot, result)
	}
	fmt.Fprintf(&b, "certificate sha256 %s\n", st.Fingerprint)
	return b.String()
}

// slotsLine says which slot is committed, which on trial, and what
// happened last.
func slotsLine(st update.Status) string {
	line := fmt.Sprintf("slot %s committed", st.Active)
	if st.Trial != "" {
		line += fmt.Sprintf(", slot %s on trial (%d tries left)", st.Trial, st.TriesLeft)
	}
	last := map[string]string{
		"built":       "as built",
		"invalidated": "slot %s invalidated for an update",
		"armed":       "slot %s written and armed for a trial boot",
		"tried":       "slot %s booted on trial",
		"committed":   "slot %s committed after its trial",
		"fell-back":   "slot %s failed its trial; the gateway fell back",
	}[st.Last]
	if last == "" {
		last = st.Last
	} else if strings.Contains(last, "%s") {
		last = fmt.Sprintf(last, st.LastSlot)
	}
	return fmt.Sprintf("%s; last: %s; seq %d", line, last, st.Seq)
}
