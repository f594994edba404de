// Command rootprobe is the service of the read-only root test. It says on
// its output (the console) what the gateway's root is, whether it can be
// written, what runs from it, and what containerd's view of it is, then
// waits for SIGTERM:
//
//	rootprobe: / is erofs ro from /dev/dm-0
//	rootprobe: write /rootprobe: read-only file system
//	rootprobe: containerd pid 104 runs /usr/bin/edgegate-containerd from the root's device
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	say("/ is %s", rootMount())
	for _, p := range []string{"/rootprobe", "/usr/bin/rootprobe", "/sbin/init"} {
		say("write %s: %s", p, writeErr(p))
	}
	say("write /etc/rootprobe: %s", writeErr("/etc/rootprobe"))
	if _, err := os.Stat("/init"); err != nil {
		say("the initramfs is gone: %v", err)
	}
	for _, name := range []string{"init", "rootprobe"} {
		say("%s", runsFrom(name, selfOrInit(name)))
	}
	if pid, err := waitFor("containerd", time.Minute); err != nil {
		say("containerd: %v", err)
	} else {
		say("%s", runsFrom("containerd", pid))
		for _, p := range []string{"/rootprobe", "/etc/rootprobe"} {
			say("containerd's view: write %s: %s", p, writeErr(fmt.Sprintf("/proc/%d/root%s", pid, p)))
		}
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	<-term
}

func say(format string, a ...any) { fmt.Printf("rootprobe: "+format+"\n", a...) }

// rootMount describes the mount of / from /proc/self/mountinfo:
// "<fstype> <ro|rw> from <source>".
func rootMount() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err.Error()
	}
	desc := "not mounted"
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 || f[4] != "/" {
			continue
		}
		sep := 6
		for f[sep] != "-" {
			sep++
		}
		mode := strings.Split(f[5], ",")[0]
		desc = fmt.Sprintf("%s %s from %s", f[sep+1], mode, f[sep+2]) // the last mount of / wins
	}
	return desc
}

func writeErr(p string) string {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		f.Close()
		os.Remove(p)
		return "written"
	}
	if errors.Is(err, syscall.EROFS) {
		return "read-only file system (EROFS)"
	}
	return err.Error()
}

func selfOrInit(name string) int {
	if name == "init" {
		return 1
	}
	return os.Getpid()
}

// runsFrom says which executable pid runs and whether it is on the
// root's device.
func runsFrom(name string, pid int) string {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return fmt.Sprintf("%s pid %d: %v", name, pid, err)
	}
	var root, prog syscall.Stat_t
	if err := syscall.Stat("/", &root); err != nil {
		return err.Error()
	}
	if err := syscall.Stat(fmt.Sprintf("/proc/%d/exe", pid), &prog); err != nil {
		return err.Error()
	}
	where := "another device"
	if prog.Dev == root.Dev {
		where = "the root's device"
	}
	return fmt.Sprintf("%s pid %d runs %s from %s", name, pid, exe, where)
}

// waitFor returns the pid of the first process whose command is comm.
func waitFor(comm string, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		dirs, _ := filepath.Glob("/proc/[0-9]*")
		for _, d := range dirs {
			b, err := os.ReadFile(d + "/comm")
			if err == nil && strings.TrimSpace(string(b)) == comm {
				var pid int
				fmt.Sscanf(filepath.Base(d), "%d", &pid)
				return pid, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, fmt.Errorf("no process %q within %v", comm, timeout)
}
