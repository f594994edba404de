package datapart

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pass is one kind of e2fsck run.
type pass int

const (
	preen pass = iota // e2fsck -p: the fixes that are always safe
	force             // e2fsck -f -y: every fix e2fsck knows
)

func (p pass) String() string {
	if p == preen {
		return "e2fsck -p"
	}
	return "e2fsck -f -y"
}

func (p pass) args(dev string) []string {
	if p == preen {
		return []string{"-p", dev}
	}
	return []string{"-f", "-y", dev}
}

// e2fsck's exit status is a bit mask (e2fsck(8)): 1 errors corrected,
// 2 reboot advised (for a mounted root only), 4 errors left uncorrected,
// 8 operational error, 16 usage error, 32 cancelled, 128 shared library
// error.
const (
	fsckCorrected   = 1
	fsckReboot      = 2
	fsckUncorrected = 4
	fsckOperational = 8
	fsckVerdicts    = fsckCorrected | fsckReboot | fsckUncorrected
)

// fsckRun is how one e2fsck run ended.
type fsckRun struct {
	pass   pass
	exit   Exit
	err    error // it could not be started
	output string
}

// action is what follows one e2fsck run.
type action int

const (
	actClean    action = iota // consistent as it was: mount it
	actRepaired               // consistent now: mount it
	actForce                  // preen gave up: run e2fsck -f -y
	actRetry                  // no word on the filesystem: try later, erase nothing
	actRecreate               // e2fsck -y left errors: the filesystem is beyond repair
)

func (a action) String() string {
	return [...]string{"clean", "repaired", "force", "retry", "recreate"}[a]
}

// decide reads one e2fsck run. Only e2fsck's own verdict on the
// filesystem counts: a run that did not finish (not started, killed,
// failed) or that could not read the disk says nothing about the
// filesystem, and "beyond repair" is only believed from -y. Preen failing
// operationally (exit 8) is passed on to -y, which opens what preen
// cannot (a torn primary superblock: -y takes a backup); -y failing so is
// no verdict.
func decide(r fsckRun) action {
	code := r.exit.Code
	switch {
	case r.err != nil, r.exit.Signal != 0, diskError(r.output):
		return actRetry
	case r.pass == preen && code&^(fsckVerdicts|fsckOperational) != 0:
		return actRetry
	case r.pass == preen && code&(fsckUncorrected|fsckOperational) != 0:
		return actForce
	case r.pass == preen && code == 0:
		return actClean
	case r.pass == preen:
		return actRepaired
	case code&^fsckVerdicts != 0:
		return actRetry
	case code&fsckUncorrected != 0:
		return actRecreate
	case code == 0:
		return actClean
	}
	return actRepaired
}

// diskErrors are what e2fsck prints when the medium fails a read or a
// write (e2fsck/ehandler.c, the I/O manager); e2fsck then reports
// "errors left" for blocks it never saw, which must not count as a
// broken filesystem.
var diskErrors = []string{
	"Error reading block", "Error writing block", "Input/output error", "short read", "short write",
}

func diskError(out string) bool {
	for _, s := range diskErrors {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// describe says in one line how a run went, for the console and the
// error that explains a failed boot step.
func (r fsckRun) describe() string {
	switch {
	case errors.Is(r.err, errTimedOut):
		return fmt.Sprintf("%s %v", r.pass, r.err)
	case r.err != nil:
		return fmt.Sprintf("%s could not be executed: %v", r.pass, r.err)
	case r.exit.Signal != 0:
		return fmt.Sprintf("%s was %s", r.pass, r.exit)
	case r.exit.Code&^fsckVerdicts != 0:
		return fmt.Sprintf("%s failed (%s): %s", r.pass, r.exit, complaint(r.output))
	case diskError(r.output):
		return fmt.Sprintf("%s could not read or write the disk (%s): %s", r.pass, r.exit, firstMatch(r.output))
	}
	return fmt.Sprintf("%s %s: %s", r.pass, r.exit, lastLine(r.output))
}

// check runs e2fsck -p and, when preen gives up, e2fsck -f -y. It returns
// what to do and the runs that decided it.
func (o Options) check() (action, []fsckRun) {
	r := o.fsck(preen)
	runs := []fsckRun{r}
	act := decide(r)
	switch act {
	case actRepaired:
		o.Say("data: e2fsck repaired %s: %s", o.Device, lastLine(r.output))
		return act, runs
	case actForce:
		o.Say("data: %s on %s gave up (%s): %s; trying e2fsck -f -y", r.pass, o.Device, r.exit, lastLine(r.output))
	default:
		return act, runs
	}
	r = o.fsck(force)
	runs = append(runs, r)
	act = decide(r)
	if act == actRepaired || act == actClean {
		o.Say("data: e2fsck -f -y repaired %s: %s", o.Device, lastLine(r.output))
		return actRepaired, runs
	}
	return act, runs
}

func (o Options) fsck(p pass) fsckRun {
	exit, out, err := o.run(o.Fsck, p.args(o.Device)...)
	r := fsckRun{pass: p, exit: exit, err: err, output: out}
	o.logRun(r)
	return r
}

// report is the runs' full output, as kept with a recreated filesystem.
func report(dev string, runs []fsckRun) string {
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "=== %s %s: %s\n", r.pass, dev, r.result())
		if r.output != "" {
			b.WriteString(r.output + "\n")
		}
	}
	return b.String()
}

func (r fsckRun) result() string {
	if r.err != nil {
		return "not executed: " + r.err.Error()
	}
	return r.exit.String()
}

// logRun appends a run to FsckLog. A log that cannot be written costs
// only the explanation, never the boot.
func (o Options) logRun(r fsckRun) {
	if o.FsckLog == "" {
		return
	}
	if err := os.MkdirAll(filepath.Dir(o.FsckLog), 0o755); err != nil {
		o.Say("data: keeping e2fsck's output: %v", err)
		return
	}
	f, err := os.OpenFile(o.FsckLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		o.Say("data: keeping e2fsck's output: %v", err)
		return
	}
	defer f.Close()
	if _, err := f.WriteString(report(o.Device, []fsckRun{r})); err != nil {
		o.Say("data: keeping e2fsck's output: %v", err)
	}
}

func (o Options) run(name string, args ...string) (Exit, string, error) {
	out, err := os.CreateTemp("", "datapart-out-")
	if err != nil {
		return Exit{}, "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	ctx, cancel := context.WithTimeout(context.Background(), o.CommandTimeout)
	defer cancel()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	exit, err := o.Run(ctx, cmd)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w %v; killed", errTimedOut, o.CommandTimeout)
	}
	b, _ := os.ReadFile(out.Name())
	return exit, strings.TrimSpace(string(b)), err
}

// errTimedOut marks a command that did not finish within CommandTimeout.
// Trying again within the same boot would only hang as long again, so it
// ends the attempts.
var errTimedOut = errors.New("did not finish within")

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// complaint is what e2fsck said when it gave up: its last own error
// line ("<argv0>: <what> while trying to open <device>") rather than the
// advice printed after it.
func complaint(out string) string {
	said := ""
	for l := range strings.SplitSeq(out, "\n") {
		if prog, _, ok := strings.Cut(l, ": "); ok && strings.HasSuffix(prog, "e2fsck") {
			said = strings.TrimSpace(l)
		}
	}
	if said == "" {
		return lastLine(out)
	}
	return said
}

// firstMatch is the first line of out that reports a disk error.
func firstMatch(out string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if diskError(l) {
			return strings.TrimSpace(l)
		}
	}
	return lastLine(out)
}
