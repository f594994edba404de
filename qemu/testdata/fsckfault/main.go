// Command fsckfault stands in for /sbin/e2fsck in the image of the data
// partition fault tests. The kernel parameter edgegate.test.fsck=PLAN
// says what each run does in turn (comma-separated; the last step
// repeats); without it every run is the real e2fsck:
//
//	real     run the real e2fsck, /sbin/e2fsck.real
//	exitN    print a line and exit N (exit0: "clean" without checking)
//	kill     die by SIGKILL
//	noexec   die by SIGKILL after covering /sbin/e2fsck with a file that
//	         cannot be executed (a bind mount: the root is read-only), so
//	         the next run fails to start
//
// "fsckfault cat FILE" prints FILE, or says it is missing: a service that
// shows what init wrote in /run.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const (
	realFsck = "/sbin/e2fsck.real"
	self     = "/sbin/e2fsck"
	counter  = "/run/fsckfault.runs"
	noexec   = "/run/fsckfault.noexec"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "cat" {
		cat(os.Args[2])
		return
	}
	step := nextStep()
	switch {
	case step == "real":
		argv := append([]string{realFsck}, os.Args[1:]...)
		fail(syscall.Exec(realFsck, argv, os.Environ()))
	case step == "kill":
		die()
	case step == "noexec":
		fail(os.WriteFile(noexec, []byte("not a program\n"), 0o755))
		fail(syscall.Mount(noexec, self, "", syscall.MS_BIND, ""))
		die()
	case strings.HasPrefix(step, "exit"):
		code, err := strconv.Atoi(strings.TrimPrefix(step, "exit"))
		fail(err)
		fmt.Printf("fsckfault %s: exit %d on purpose\n", strings.Join(os.Args[1:], " "), code)
		os.Exit(code)
	}
	fail(fmt.Errorf("unknown step %q", step))
}

// nextStep counts this run in /run and picks its step from the plan.
func nextStep() string {
	n := 0
	if b, err := os.ReadFile(counter); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	fail(os.WriteFile(counter, []byte(strconv.Itoa(n+1)), 0o644))
	plan := []string{"real"}
	cmdline, err := os.ReadFile("/proc/cmdline")
	fail(err)
	for _, f := range strings.Fields(string(cmdline)) {
		if v, ok := strings.CutPrefix(f, "edgegate.test.fsck="); ok {
			plan = strings.Split(v, ",")
		}
	}
	return plan[min(n, len(plan)-1)]
}

func die() {
	fail(syscall.Kill(os.Getpid(), syscall.SIGKILL))
	select {}
}

func cat(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Printf("no %s: %v\n", path, err)
		return
	}
	fmt.Printf("%s holds: %s", path, b)
}

func fail(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsckfault:", err)
		os.Exit(8)
	}
}
