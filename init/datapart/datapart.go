// Package datapart mounts the gateway's persistent data partition, making
// its ext4 filesystem on the first boot, when the partition is still blank.
//
// The image ships the partition zeroed: cards differ in size and a
// filesystem made on the device fills whatever it is given. A partition
// that holds something other than ext4 is never formatted: that could be a
// user's data or a wrong device, and erasing it is not init's call.
//
// A power cut during the first boot's mke2fs leaves a partition that is
// neither blank nor a filesystem. To tell that apart from foreign data,
// the filesystem is made one record short of the partition and the last
// 4 KiB hold a format record, written and synced before mke2fs starts and
// marked done after it finished: a record saying "formatting" means the
// format was ours and did not finish, so it is started again.
//
// Every boot checks the filesystem with e2fsck -p (a clean one costs a
// superblock read); what preen cannot fix gets e2fsck -f -y. The partition
// holds the node's certificates, its store and its images, so it is
// erased only on e2fsck's positive word that it cannot be repaired:
// e2fsck -y leaving errors uncorrected (exit 4). Everything else says
// nothing about the filesystem — e2fsck could not be executed, failed
// (exit 8), was killed, or read errors from the disk, or the kernel
// refused a filesystem e2fsck passed — so it is tried again a few times
// with growing pauses, and when it persists Mount fails with the
// partition left as it was, for the caller to run without it.
//
// A filesystem made again keeps why and what it could: e2fsck's report
// (lib/edgegate/recreated-<time>/e2fsck.log on the new filesystem) and
// the old files that could still be read and fit in RAM (files/ beside
// it), put in by mke2fs itself.
package datapart

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// State is what a partition holds before mounting.
type State int

// Partition states.
const (
	Blank   State = iota // all zero where a filesystem would start
	Ext4                 // an ext2/3/4 superblock is present
	Foreign              // something else
)

func (s State) String() string {
	return [...]string{"blank", "ext4", "foreign"}[s]
}

const (
	superblockOffset = 1024
	magicOffset      = superblockOffset + 0x38
	ext4Magic        = 0xef53
	// probeSize covers the superblock and the first block group's
	// metadata; a partition zero this far has never held a filesystem.
	probeSize = 1 << 20
)

// Probe reads the start of the device and says what it holds.
func Probe(r io.ReaderAt) (State, error) {
	buf := make([]byte, probeSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return Foreign, fmt.Errorf("reading partition: %w", err)
	}
	buf = buf[:n]
	if len(buf) >= magicOffset+2 && binary.LittleEndian.Uint16(buf[magicOffset:]) == ext4Magic {
		return Ext4, nil
	}
	if len(bytes.Trim(buf, "\x00")) == 0 {
		return Blank, nil
	}
	return Foreign, nil
}

// Retry defaults: three tries, 2 s then 4 s apart, so a fault that
// passes (a slow card, a flaky read) costs seconds and one that stays
// leaves the boot within about ten.
const (
	DefaultAttempts   = 3
	DefaultRetryDelay = 2 * time.Second
)

// DefaultCommandTimeout bounds one e2fsck or mke2fs run: far above what
// e2fsck -f -y needs on a 64 GB card of a Pi (minutes), far below "never",
// which is what a hung card would otherwise cost a gateway nobody can
// reach.
const DefaultCommandTimeout = 30 * time.Minute

// Options says how to prepare and mount the partition.
type Options struct {
	Device string // e.g. /dev/vda4
	Target string // e.g. /var
	Label  string // filesystem label given when formatting
	Mkfs   string // path of mke2fs
	Fsck   string // path of e2fsck; empty skips checking
	// Run runs a command to completion (PID 1 passes its reaper's); nil
	// means exec.Cmd.Run. Stdout and Stderr are set to an *os.File. When
	// ctx ends first, Run kills the command and returns ctx's error;
	// otherwise the error is for a command that could not be started.
	Run func(ctx context.Context, cmd *exec.Cmd) (Exit, error)
	// CommandTimeout bounds each e2fsck and mke2fs run
	// (DefaultCommandTimeout when 0). A run that does not finish in time
	// (a card that stops answering) is killed and ends the attempts: the
	// gateway comes up with /var in RAM instead of hanging at boot.
	CommandTimeout time.Duration
	// Say reports progress, one console line per call; nil is silent.
	Say func(format string, args ...any)
	// FsckLog is a file (in RAM) each e2fsck run's output is appended to,
	// so what the boot decided can be explained later; empty keeps none.
	FsckLog string
	// StageDir is a directory in RAM where what a recreated filesystem
	// keeps (e2fsck's report, salvaged files) is gathered; empty means a
	// temporary directory.
	StageDir string
	// SalvageMax bounds the files salvaged from a filesystem being made
	// again, in bytes; 0 salvages none.
	SalvageMax int64
	// Attempts is how many times a transient failure is tried in all
	// (DefaultAttempts when 0); RetryDelay is the first pause between
	// tries, doubled after each (DefaultRetryDelay when 0).
	Attempts   int
	RetryDelay time.Duration
	// Sleep pauses between tries; nil is time.Sleep.
	Sleep func(time.Duration)
}

// Exit is how a command ended.
type Exit struct {
	Code   int            // its exit status, when it exited
	Signal syscall.Signal // the signal that killed it, else 0
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return "killed by signal " + e.Signal.String()
	}
	return fmt.Sprintf("exit %d", e.Code)
}

// Result reports what Prepare or Mount did.
type Result struct {
	Before    State
	Formatted bool
	// Resumed is true when an interrupted first-boot format was redone.
	Resumed bool
	// Check is what e2fsck found: "clean", "repaired", or "" when the
	// filesystem was not checked (just formatted, or no Fsck given).
	Check string
	// Recreated is true when a filesystem e2fsck could not repair was
	// made again. Kept is where the new one holds e2fsck's report and the
	// salvaged files, relative to its root; Salvaged is how many files.
	Recreated bool
	Kept      string
	Salvaged  int
	// Attempts is how many tries it took; more than one means something
	// transient failed first.
	Attempts int
}

func (o *Options) defaults() {
	if o.Run == nil {
		o.Run = runDirect
	}
	if o.Say == nil {
		o.Say = func(string, ...any) {}
	}
	if o.Attempts <= 0 {
		o.Attempts = DefaultAttempts
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = DefaultRetryDelay
	}
	if o.Sleep == nil {
		o.Sleep = time.Sleep
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
}

func runDirect(ctx context.Context, cmd *exec.Cmd) (Exit, error) {
	if err := cmd.Start(); err != nil {
		return Exit{}, err
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !stop() {
		return Exit{}, ctx.Err()
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return Exit{}, err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Code: -1, Signal: ws.Signal()}, nil
	}
	return Exit{Code: ee.ExitCode()}, nil
}

// mount mounts the data partition without set-user-ID programs or device
// nodes: nothing of the gateway's needs them there, and containers' do not
// either (their root is an overlay mount of its own, with its own flags).
func mount(dev, target string) error {
	if err := unix.Mount(dev, target, "ext4", unix.MS_NOATIME|unix.MS_NODEV|unix.MS_NOSUID, ""); err != nil {
		return fmt.Errorf("mounting data partition %s on %s: %w", dev, target, err)
	}
	return nil
}

// Unmount syncs and unmounts the partition so the next boot finds a clean
// filesystem.
func Unmount(target string) error {
	unix.Sync()
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return nil
}
