// podapp is the container payload of the pod tests: one small static binary
// that plays every role a test pod needs (web server with a readiness
// delay, init-container file writer, crasher, memory hog, log spammer,
// namespace recorder, disk filler, UDP echo), so
// a single multi-arch image serves all of them.
//
//	podapp [flags] COMMAND [ARGS]
//	  serve --port N [--ready-after D] [--text S]
//	  print-env | cat FILE... | write FILE TEXT | sleep D
//	  exit N [--after D] | alloc MIB | log N
//	  record-ns FILE... | fill FILE MIB | udp-echo PORT
//
// With no arguments the command line is taken from $APP_MODE (split on
// blanks), so a pod can pick the role through its environment alone.
// Flags may come before or after the arguments; durations are Go durations
// ("1.5s") or plain seconds. Every command takes --term-delay D: on SIGTERM
// podapp prints "podapp: SIGTERM", waits D and exits 0, which makes
// graceful termination observable (as PID 1 in a container, a process
// without a handler would ignore SIGTERM and be SIGKILLed instead).
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = strings.Fields(os.Getenv("APP_MODE"))
	}
	os.Exit(run(args))
}

// run executes the command line and returns the process exit status.
func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	inv, err := parse(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "podapp: %v\n%s", err, usage)
		return 2
	}
	exitOnSIGTERM(inv.termDelay)
	err = inv.action(inv.args)
	if code, ok := errors.AsType[exitCode](err); ok {
		return int(code)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "podapp %s: %v\n", inv.name, err)
		return 1
	}
	return 0
}

// exitOnSIGTERM makes SIGTERM a clean exit after delay, announced on
// stdout so a test sees in the container log that the signal arrived.
func exitOnSIGTERM(delay time.Duration) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		<-ch
		fmt.Println("podapp: SIGTERM")
		if delay > 0 {
			time.Sleep(delay)
			fmt.Printf("podapp: exiting %v after SIGTERM\n", delay)
		}
		os.Exit(0)
	}()
}

// exitCode is the error of the exit command: the status to exit with.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// forever blocks for good. Sleeping, rather than select{}, keeps the Go
// runtime from declaring a deadlock when nothing else is running.
func forever() {
	for {
		time.Sleep(time.Hour)
	}
}
