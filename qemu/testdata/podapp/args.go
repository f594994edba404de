package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"
)

const usage = `usage: podapp [--term-delay D] COMMAND [ARGS]
  serve --port N [--ready-after D] [--text S]
  print-env
  cat FILE...
  write FILE TEXT
  sleep D
  exit N [--after D]
  alloc MIB
  log N
  record-ns FILE...
  fill FILE MIB
  udp-echo PORT
`

// command is one subcommand: how many arguments it takes, and the flags it
// registers on its flag set together with the action that reads them.
type command struct {
	minArgs, maxArgs int // maxArgs < 0: no limit
	setup            func(fs *flag.FlagSet) func(args []string) error
}

// invocation is a parsed command line.
type invocation struct {
	name      string
	action    func(args []string) error
	args      []string
	termDelay time.Duration
}

func lookup(name string) (command, bool) {
	noFlags := func(run func([]string) error) func(*flag.FlagSet) func([]string) error {
		return func(*flag.FlagSet) func([]string) error { return run }
	}
	switch name {
	case "serve":
		return command{0, 0, setupServe}, true
	case "print-env":
		return command{0, 0, noFlags(printEnv)}, true
	case "cat":
		return command{1, -1, noFlags(cat)}, true
	case "write":
		return command{2, 2, noFlags(write)}, true
	case "sleep":
		return command{1, 1, noFlags(sleep)}, true
	case "exit":
		return command{1, 1, setupExit}, true
	case "alloc":
		return command{1, 1, noFlags(alloc)}, true
	case "log":
		return command{1, 1, noFlags(logLines)}, true
	case "record-ns":
		return command{1, -1, noFlags(recordNamespaces)}, true
	case "fill":
		return command{2, 2, noFlags(fill)}, true
	case "udp-echo":
		return command{1, 1, noFlags(udpEcho)}, true
	}
	return command{}, false
}

// parse splits args into the command, its arguments and its flags. The
// common --term-delay flag is accepted both before the command name and
// among the command's own flags.
func parse(args []string) (invocation, error) {
	var inv invocation
	top := newFlagSet("podapp")
	top.Var((*duration)(&inv.termDelay), "term-delay", "wait this long after SIGTERM before exiting")
	if err := top.Parse(args); err != nil {
		return inv, err
	}
	if top.NArg() == 0 {
		return inv, fmt.Errorf("no command")
	}
	inv.name = top.Arg(0)
	cmd, ok := lookup(inv.name)
	if !ok {
		return inv, fmt.Errorf("unknown command %q", inv.name)
	}
	fs := newFlagSet(inv.name)
	fs.Var((*duration)(&inv.termDelay), "term-delay", "wait this long after SIGTERM before exiting")
	inv.action = cmd.setup(fs)
	rest, err := parseInterspersed(fs, top.Args()[1:])
	if err != nil {
		return inv, err
	}
	if len(rest) < cmd.minArgs || (cmd.maxArgs >= 0 && len(rest) > cmd.maxArgs) {
		return inv, fmt.Errorf("%s: wrong number of arguments (%d)", inv.name, len(rest))
	}
	inv.args = rest
	return inv, nil
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run prints the usage once, with the error
	return fs
}

// parseInterspersed parses fs's flags wherever they appear among args
// ("exit 3 --after 1s") and returns the positional arguments; after "--"
// everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// duration is a flag.Value for parseDuration.
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(s string) error {
	v, err := parseDuration(s)
	*d = duration(v)
	return err
}

// parseDuration reads a Go duration or a plain number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		if secs < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (want e.g. 1.5s or 2)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}
