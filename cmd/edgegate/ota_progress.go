package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// progressBar shows a push's progress: a bar redrawn in place on a
// terminal, a plain line every 10% otherwise (a log, a CI job).
type progressBar struct {
	w        io.Writer
	terminal bool
	now      func() time.Time
	start    time.Time
	drawn    time.Time // last redraw, on a terminal
	tenths   int64     // last tenth printed, otherwise
	label    string    // the plain lines' first word
	title    string    // shown before the bar, if set
	timeLeft bool      // estimate the time left from the rate so far
}

func newProgressBar(w io.Writer, terminal bool, now func() time.Time) *progressBar {
	return &progressBar{w: w, terminal: terminal, now: now, start: now(), tenths: -1, label: "sent"}
}

// update is the Push progress callback.
func (p *progressBar) update(sent, total int64) {
	t := p.now()
	done := total > 0 && sent >= total
	if p.terminal {
		if !done && t.Sub(p.drawn) < 100*time.Millisecond {
			return
		}
		p.drawn = t
		fmt.Fprintf(p.w, "\r%s", p.line(sent, total, t, true))
		if done {
			fmt.Fprintln(p.w)
		}
		return
	}
	if total <= 0 {
		return
	}
	if tenth := sent * 10 / total; tenth > p.tenths {
		p.tenths = tenth
		fmt.Fprintln(p.w, p.line(sent, total, t, false))
	}
}

// line is "[=====>    ]  45%  12.3/27.0 MiB  3.2 MiB/s".
func (p *progressBar) line(sent, total int64, t time.Time, bar bool) string {
	rate := ""
	if d := t.Sub(p.start).Seconds(); d > 0 {
		rate = fmt.Sprintf("  %.1f MiB/s", mib(sent)/d)
		if p.timeLeft && sent > 0 && sent < total {
			left := time.Duration(d * float64(total-sent) / float64(sent) * float64(time.Second))
			rate += fmt.Sprintf("  %d:%02d left", int(left.Minutes()), int(left.Seconds())%60)
		}
	}
	if total <= 0 {
		return fmt.Sprintf("%s %.1f MiB%s", p.label, mib(sent), rate)
	}
	pct := sent * 100 / total
	s := fmt.Sprintf("%3d%%  %.1f/%.1f MiB%s", pct, mib(sent), mib(total), rate)
	if !bar {
		return p.label + " " + s
	}
	const width = 30
	fill := int(sent * width / total)
	return p.title + "[" + strings.Repeat("=", fill) + strings.Repeat(" ", width-fill) + "] " + s
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
