package datapart

import (
	"errors"
	"syscall"
	"testing"
)

// TestDecide is every way an e2fsck run can end and what a boot does
// next. Only "recreate" erases, and only e2fsck -y exiting 4 leads there.
func TestDecide(t *testing.T) {
	const ioErr = "Error reading block 9000 (Input/output error) while reading inode table.  \nUNEXPECTED INCONSISTENCY; RUN fsck MANUALLY."
	tests := []struct {
		name string
		run  fsckRun
		want action
	}{
		{"preen clean", fsckRun{pass: preen}, actClean},
		{"preen corrected", fsckRun{pass: preen, exit: Exit{Code: 1}}, actRepaired},
		{"preen corrected, reboot advised", fsckRun{pass: preen, exit: Exit{Code: 3}}, actRepaired},
		{"preen left errors", fsckRun{pass: preen, exit: Exit{Code: 4}}, actForce},
		{"preen cannot execute", fsckRun{pass: preen, err: errors.New("exec format error")}, actRetry},
		{"preen operational error (cannot open the filesystem)", fsckRun{pass: preen, exit: Exit{Code: 8}}, actForce},
		{"preen left errors, operational error", fsckRun{pass: preen, exit: Exit{Code: 12}}, actForce},
		{"preen killed", fsckRun{pass: preen, exit: Exit{Code: -1, Signal: syscall.SIGKILL}}, actRetry},
		{"preen read errors", fsckRun{pass: preen, exit: Exit{Code: 4}, output: ioErr}, actRetry},
		{"preen usage error", fsckRun{pass: preen, exit: Exit{Code: 16}}, actRetry},
		{"preen cancelled", fsckRun{pass: preen, exit: Exit{Code: 32}}, actRetry},
		{"preen loader failed", fsckRun{pass: preen, exit: Exit{Code: 127}}, actRetry},
		{"force clean", fsckRun{pass: force}, actClean},
		{"force corrected", fsckRun{pass: force, exit: Exit{Code: 1}}, actRepaired},
		{"force left errors", fsckRun{pass: force, exit: Exit{Code: 4}}, actRecreate},
		{"force left errors and corrected some", fsckRun{pass: force, exit: Exit{Code: 5}}, actRecreate},
		{"force left errors, operational error", fsckRun{pass: force, exit: Exit{Code: 12}}, actRetry},
		{"force left errors reading the disk", fsckRun{pass: force, exit: Exit{Code: 4}, output: ioErr}, actRetry},
		{"force corrected after rewriting unreadable blocks", fsckRun{pass: force, exit: Exit{Code: 1}, output: "Error writing block 12 (Input/output error).  Ignore error? yes"}, actRetry},
		{"force cannot execute", fsckRun{pass: force, err: errors.New("no such file")}, actRetry},
		{"force operational error", fsckRun{pass: force, exit: Exit{Code: 8}}, actRetry},
		{"force killed", fsckRun{pass: force, exit: Exit{Code: -1, Signal: syscall.SIGSEGV}}, actRetry},
	}
	for _, tt := range tests {
		if got := decide(tt.run); got != tt.want {
			t.Errorf("%s: decide = %v, want %v", tt.name, got, tt.want)
		}
	}
}
