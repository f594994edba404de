package datapart

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fault tests give Prepare and Mount an e2fsck that fails in every way
// a device sees (a shell script standing in for it, following a plan of
// one outcome per run) on a filesystem holding a marker file, and check
// that the marker is gone only where e2fsck -f -y said the filesystem
// cannot be repaired.

const marker = "/lib/edgegate/marker"

// markedPartition is a formatted partition image holding the marker.
func markedPartition(t *testing.T) (string, Options) {
	t.Helper()
	img, o, _ := partition(t)
	prepared(t, o)
	src := filepath.Join(t.TempDir(), "marker")
	if err := os.WriteFile(src, []byte("written on the first boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	debugfs(t, img, "-w", "mkdir /lib", "mkdir /lib/edgegate", "write "+src+" "+marker)
	if !hasMarker(t, img) {
		t.Fatal("marker not written")
	}
	// The first check after debugfs wrote may touch the superblock; the
	// tests compare bytes from here on.
	prepared(t, o)
	return img, o
}

func debugfs(t *testing.T, img string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("debugfs"); err != nil {
		t.Skip("debugfs not installed")
	}
	var out bytes.Buffer
	for _, a := range args {
		if a == "-w" {
			continue
		}
		argv := []string{"-R", a, img}
		if slices.Contains(args, "-w") {
			argv = append([]string{"-w"}, argv...)
		}
		cmd := exec.Command("debugfs", argv...)
		cmd.Stdout = &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("debugfs %s: %v", a, err)
		}
	}
	return out.String()
}

func hasMarker(t *testing.T, img string) bool {
	t.Helper()
	return strings.Contains(debugfs(t, img, "cat "+marker), "written on the first boot")
}

// fakeFsck writes a stand-in for e2fsck: run n does what line n of plan
// says ("real" runs the real e2fsck, "kill" dies by SIGKILL, "hang" never
// ends, "exit N"
// prints a line and exits N, "ioerror" reports a read error as e2fsck
// does). It returns its path and a function counting the runs so far.
func fakeFsck(t *testing.T, real string, plan ...string) (string, func() int) {
	t.Helper()
	dir := t.TempDir()
	count, planFile := filepath.Join(dir, "runs"), filepath.Join(dir, "plan")
	if err := os.WriteFile(planFile, []byte(strings.Join(plan, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`#!/bin/sh
n=$(( $(cat %[1]s 2>/dev/null || echo 0) + 1 ))
echo $n > %[1]s
step=$(sed -n "${n}p" %[2]s)
case "$step" in
real) exec %[3]s "$@" ;;
kill) kill -KILL $$ ;;
hang) exec sleep 600 ;;
ioerror) echo "Error reading block 9000 (Input/output error) while reading inode table.  "
	echo "UNEXPECTED INCONSISTENCY; RUN fsck MANUALLY."; exit 4 ;;
exit*) echo "fake e2fsck $*: $step"; exit ${step#exit } ;;
*) echo "fake e2fsck: no step $n"; exit 16 ;;
esac
`, count, planFile, real)
	p := filepath.Join(dir, "e2fsck")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, func() int {
		b, _ := os.ReadFile(count)
		var n int
		fmt.Sscan(string(b), &n)
		return n
	}
}

func TestPrepareFaults(t *testing.T) {
	tests := []struct {
		name     string
		plan     []string // one step per e2fsck run; nil: e2fsck cannot be executed
		ok       bool     // Prepare succeeds
		recreate bool     // and made the filesystem again
		attempts int
		runs     int // e2fsck runs in all
	}{
		{"clean", []string{"real"}, true, false, 1, 1},
		{"cannot execute", nil, false, false, 3, 0},
		{"operational error", []string{"exit 8", "exit 8", "exit 8", "exit 8", "exit 8", "exit 8"}, false, false, 3, 6},
		{"killed by a signal", []string{"kill", "kill", "kill"}, false, false, 3, 3},
		{"read errors", []string{"ioerror", "ioerror", "ioerror"}, false, false, 3, 3},
		{"preen gives up, -y fails", []string{"exit 4", "exit 8", "exit 4", "exit 8", "exit 4", "exit 8"}, false, false, 3, 6},
		{"preen gives up, -y killed", []string{"exit 4", "kill", "exit 4", "kill", "exit 4", "kill"}, false, false, 3, 6},
		{"each failure once", []string{"kill", "ioerror", "exit 8", "exit 8"}, false, false, 3, 4},
		{"fails once, then passes", []string{"kill", "real"}, true, false, 2, 2},
		{"preen fails, -y repairs", []string{"exit 8", "exit 1"}, true, false, 1, 2},
		{"-y repairs", []string{"exit 4", "exit 1"}, true, false, 1, 2},
		{"-y leaves errors", []string{"exit 4", "exit 4"}, true, true, 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img, o := markedPartition(t)
			real := o.Fsck
			runs := func() int { return 0 }
			if tt.plan == nil {
				o.Fsck = filepath.Join(t.TempDir(), "e2fsck")
				if err := os.WriteFile(o.Fsck, []byte("not a program\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			} else {
				o.Fsck, runs = fakeFsck(t, real, tt.plan...)
			}
			o.FsckLog = filepath.Join(t.TempDir(), "e2fsck.log")
			var slept []time.Duration
			o.Sleep = func(d time.Duration) { slept = append(slept, d) }
			before, _ := os.ReadFile(img)

			res, err := Prepare(o)
			if (err == nil) != tt.ok || res.Recreated != tt.recreate || res.Attempts != tt.attempts || runs() != tt.runs {
				t.Fatalf("Prepare = %+v, %v after %d e2fsck runs; want ok %v, recreated %v, %d attempts, %d runs",
					res, err, runs(), tt.ok, tt.recreate, tt.attempts, tt.runs)
			}
			if want := []time.Duration{2 * time.Second, 4 * time.Second}[:tt.attempts-1]; !slices.Equal(slept, want) {
				t.Errorf("pauses %v, want %v", slept, want)
			}
			if hasMarker(t, img) == tt.recreate {
				t.Errorf("marker present = %v after recreated = %v", !tt.recreate, tt.recreate)
			}
			if !tt.ok {
				if after, _ := os.ReadFile(img); !bytes.Equal(before, after) {
					t.Error("a partition that could not be prepared was modified")
				}
				if !strings.Contains(err.Error(), "left as it is") {
					t.Errorf("error %q does not say the partition was kept", err)
				}
			}
			if tt.recreate {
				checkKeptReport(t, img, res)
			}
			if tt.runs > 0 {
				if log, _ := os.ReadFile(o.FsckLog); strings.Count(string(log), "=== e2fsck") != tt.runs {
					t.Errorf("FsckLog holds %d runs, want %d:\n%s", strings.Count(string(log), "=== e2fsck"), tt.runs, log)
				}
			}
		})
	}
}

// TestHungFsckEndsTheAttempts: an e2fsck that never ends (a card that
// stops answering) is killed after CommandTimeout and not run again in
// this boot, so the gateway comes up with /var in RAM instead of hanging;
// the partition is untouched.
func TestHungFsckEndsTheAttempts(t *testing.T) {
	img, o := markedPartition(t)
	var runs func() int
	o.Fsck, runs = fakeFsck(t, o.Fsck, "hang", "real")
	o.CommandTimeout = time.Second
	o.Sleep = func(time.Duration) { t.Error("a hung e2fsck was tried again") }
	before, _ := os.ReadFile(img)
	began := time.Now()
	res, err := Prepare(o)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 1s") || !strings.Contains(err.Error(), "left as it is") {
		t.Fatalf("Prepare = %+v, %v; want the hung e2fsck named and the partition kept", res, err)
	}
	if res.Attempts != 1 || runs() != 1 {
		t.Errorf("%d attempts, %d e2fsck runs; want 1 and 1", res.Attempts, runs())
	}
	if waited := time.Since(began); waited > 30*time.Second {
		t.Errorf("Prepare took %s with a 1s command timeout", waited)
	}
	if after, _ := os.ReadFile(img); !bytes.Equal(before, after) {
		t.Error("the partition was modified")
	}
}

// checkKeptReport: a recreated filesystem holds e2fsck's report of both
// passes where Result.Kept says, and is itself clean.
func checkKeptReport(t *testing.T, img string, res Result) {
	t.Helper()
	if !strings.HasPrefix(res.Kept, "lib/edgegate/recreated-") {
		t.Fatalf("Kept = %q", res.Kept)
	}
	log := debugfs(t, img, "cat /"+res.Kept+"/e2fsck.log")
	for _, want := range []string{"=== e2fsck -p " + img + ": exit 4", "=== e2fsck -f -y " + img + ": exit 4", "fake e2fsck -f -y"} {
		if !strings.Contains(log, want) {
			t.Errorf("kept report lacks %q:\n%s", want, log)
		}
	}
	if out, err := exec.Command("e2fsck", "-fn", img).CombinedOutput(); err != nil {
		t.Errorf("recreated filesystem not clean: %v\n%s", err, out)
	}
}

// TestMountNeverErasesWhatDoesNotMount: the filesystem passes e2fsck but
// the kernel refuses it (here: an image file is no block device). That
// is tried again and reported, never "fixed" by formatting.
func TestMountNeverErasesWhatDoesNotMount(t *testing.T) {
	img, o := markedPartition(t)
	o.Target = t.TempDir()
	o.Sleep = func(time.Duration) {}
	res, err := Mount(o)
	if err == nil {
		Unmount(o.Target)
		t.Skip("an image file mounted here; nothing to refuse")
	}
	if res.Recreated || res.Formatted || res.Attempts != DefaultAttempts {
		t.Fatalf("Mount = %+v, %v; want %d attempts and nothing formatted", res, err, DefaultAttempts)
	}
	if !strings.Contains(err.Error(), "after e2fsck passed it") {
		t.Errorf("error %q does not say the mount failed after the check", err)
	}
	// e2fsck updates the superblock's counters on every run, so the
	// bytes change; the files must not.
	if !hasMarker(t, img) {
		t.Error("the marker is gone")
	}
}

// TestMountRecreatesKeepingReportAndFiles runs the one erasing path on a
// real block device (a loop device over the image): e2fsck -f -y leaves
// errors, so the filesystem is made again, and the new one, mounted,
// holds e2fsck's report and the old files that could still be read.
func TestMountRecreatesKeepingReportAndFiles(t *testing.T) {
	img, o := markedPartition(t)
	dev := loopDevice(t, img)
	o.Device, o.Target, o.StageDir, o.SalvageMax = dev, t.TempDir(), t.TempDir(), 1<<20
	o.Fsck, _ = fakeFsck(t, o.Fsck, "exit 4", "exit 4")
	res, err := Mount(o)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmount(o.Target)
	if !res.Recreated || res.Salvaged == 0 || res.Kept == "" {
		t.Fatalf("Mount = %+v, want recreated with files salvaged", res)
	}
	kept := filepath.Join(o.Target, res.Kept)
	if b, err := os.ReadFile(filepath.Join(kept, "files", marker)); err != nil || string(b) != "written on the first boot\n" {
		t.Errorf("salvaged marker: %q, %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(kept, "e2fsck.log")); err != nil || !strings.Contains(string(b), "=== e2fsck -f -y "+dev+": exit 4") {
		t.Errorf("kept report: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(o.Target, marker)); !os.IsNotExist(err) {
		t.Errorf("the old marker is still in place (%v): the filesystem was not made again", err)
	}
}

// loopDevice attaches img to a loop device for the test's duration.
func loopDevice(t *testing.T, img string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (loop device, mount)")
	}
	if _, err := exec.LookPath("losetup"); err != nil {
		t.Skip("needs losetup")
	}
	out, err := exec.Command("losetup", "--find", "--show", img).Output()
	if err != nil {
		t.Skipf("no loop device: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "--detach", dev).Run() })
	return dev
}
