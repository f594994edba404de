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
// superblock read). What preen cannot fix gets e2fsck -y; a filesystem
// even that cannot repair is made again, loudly, after its files were
// copied aside (into RAM, then into lost+found/previous on the new one)
// when they fit.
package datapart

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

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

// Options says how to prepare and mount the partition.
type Options struct {
	Device string // e.g. /dev/vda4
	Target string // e.g. /var
	Label  string // filesystem label given when formatting
	Mkfs   string // path of mke2fs
	Fsck   string // path of e2fsck; empty skips checking
	// Run runs a command to completion (PID 1 passes its reaper's); nil
	// means exec.Cmd.Run. Stdout and Stderr are set to an *os.File.
	Run func(*exec.Cmd) (exitCode int, err error)
	// Say reports progress, one console line per call; nil is silent.
	Say func(format string, args ...any)
	// SalvageDir is a directory in RAM where files of a filesystem that
	// must be recreated are kept meanwhile; empty disables salvaging.
	SalvageDir string
	// SalvageMax bounds what is salvaged, in bytes.
	SalvageMax int64
}

// Result reports what Mount did.
type Result struct {
	Before    State
	Formatted bool
	// Resumed is true when an interrupted first-boot format was redone.
	Resumed bool
	// Check is what e2fsck found: "clean", "repaired", or "" when the
	// filesystem was not checked (just formatted, or no Fsck given).
	Check string
	// Recreated is true when an unrepairable filesystem was made again;
	// Salvaged says how many files were kept from it.
	Recreated bool
	Salvaged  int
}

// recordSize is the tail of the partition kept out of the filesystem for
// the format record.
const recordSize = 4096

const (
	recordMagic      = "EDGEGATE-DATA-FORMAT\n"
	recordFormatting = recordMagic + "state: formatting\n"
	recordDone       = recordMagic + "state: done\n"
)

// Prepare leaves the partition holding a checked ext4 filesystem: made
// when blank or when an earlier format did not finish, checked and
// repaired otherwise. It does not mount it.
func Prepare(o Options) (Result, error) {
	o.defaults()
	size, state, rec, err := inspect(o.Device)
	if err != nil {
		return Result{}, err
	}
	res := Result{Before: state}
	switch {
	case rec == recordFormatting:
		res.Resumed = true
		return res, o.format(size, &res, "the first-boot format was interrupted; formatting again")
	case state == Foreign && rec != recordDone:
		return res, fmt.Errorf("data partition %s holds something that is not ext4; refusing to format it", o.Device)
	case state == Blank:
		return res, o.format(size, &res, "first boot")
	}
	// Ext4, or ours with its superblock damaged (e2fsck finds a backup).
	if o.Fsck == "" {
		return res, nil
	}
	check, err := o.check()
	if err == nil {
		res.Check = check
		return res, nil
	}
	o.Say("data: %s cannot be repaired: %v", o.Device, err)
	return res, o.recreate(size, &res)
}

// Mount prepares the partition and mounts it on Target. A filesystem that
// passed its check but still does not mount is recreated.
func Mount(o Options) (Result, error) {
	o.defaults()
	res, err := Prepare(o)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(o.Target, 0o755); err != nil {
		return res, fmt.Errorf("data partition: %w", err)
	}
	err = mount(o.Device, o.Target)
	if err == nil || res.Formatted {
		return res, err
	}
	o.Say("data: mounting %s failed after its check: %v", o.Device, err)
	size, _, _, ierr := inspect(o.Device)
	if ierr != nil {
		return res, ierr
	}
	if err := o.recreate(size, &res); err != nil {
		return res, err
	}
	return res, mount(o.Device, o.Target)
}

func mount(dev, target string) error {
	if err := unix.Mount(dev, target, "ext4", unix.MS_NOATIME|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("mounting data partition %s on %s: %w", dev, target, err)
	}
	return nil
}

func (o *Options) defaults() {
	if o.Run == nil {
		o.Run = runDirect
	}
	if o.Say == nil {
		o.Say = func(string, ...any) {}
	}
}

func runDirect(cmd *exec.Cmd) (int, error) {
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// inspect returns the partition's size, what its start holds and its
// format record (empty when there is none).
func inspect(dev string) (int64, State, string, error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, Foreign, "", fmt.Errorf("data partition %s: %w", dev, err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, Foreign, "", fmt.Errorf("data partition %s: size: %w", dev, err)
	}
	state, err := Probe(f)
	if err != nil {
		return 0, Foreign, "", fmt.Errorf("data partition %s: %w", dev, err)
	}
	rec := ""
	if size >= 2*recordSize {
		buf := make([]byte, recordSize)
		if _, err := f.ReadAt(buf, size-recordSize); err != nil {
			return 0, Foreign, "", fmt.Errorf("data partition %s: format record: %w", dev, err)
		}
		if r := string(bytes.TrimRight(buf, "\x00")); strings.HasPrefix(r, recordMagic) {
			rec = r
		}
	}
	return size, state, rec, nil
}

// writeRecord stores the format record durably: it must be on the medium
// before mke2fs writes anything, and the "done" one before the boot goes
// on.
func writeRecord(dev string, size int64, rec string) error {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("format record: %w", err)
	}
	defer f.Close()
	buf := make([]byte, recordSize)
	copy(buf, rec)
	if _, err := f.WriteAt(buf, size-recordSize); err != nil {
		return fmt.Errorf("format record on %s: %w", dev, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("format record on %s: sync: %w", dev, err)
	}
	return nil
}

// format makes the filesystem between the two writes of the format
// record; the console line comes once the "formatting" record is on the
// medium, so a power cut after it is always recognized on the next boot.
func (o Options) format(size int64, res *Result, why string) error {
	if size < 2*recordSize {
		return fmt.Errorf("data partition %s: %d bytes is too small", o.Device, size)
	}
	if err := writeRecord(o.Device, size, recordFormatting); err != nil {
		return err
	}
	o.Say("data: formatting %s (%s)", o.Device, why)
	// -F: a partition, not a whole disk, is what we were given on purpose.
	// The size keeps the format record out of the filesystem; nodiscard
	// keeps mke2fs from discarding it with the rest.
	fsSize := fmt.Sprintf("%dk", (size-recordSize)/1024)
	code, out, err := o.run(o.Mkfs, "-q", "-F", "-t", "ext4", "-E", "nodiscard", "-L", o.Label, o.Device, fsSize)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit status %d", code)
	}
	if err != nil {
		return fmt.Errorf("formatting data partition %s: %w: %s", o.Device, err, out)
	}
	if err := writeRecord(o.Device, size, recordDone); err != nil {
		return err
	}
	res.Formatted = true
	return nil
}

// check runs e2fsck -p, then -y when preen gives up. e2fsck's exit code
// is a bit mask: 1 errors corrected, 2 reboot advised (for a mounted
// root only), 4 errors left, 8 operational error.
func (o Options) check() (string, error) {
	code, out, err := o.run(o.Fsck, "-p", o.Device)
	if err != nil {
		return "", fmt.Errorf("e2fsck: %w", err)
	}
	if code&^3 == 0 {
		if code == 0 {
			return "clean", nil
		}
		o.Say("data: e2fsck repaired %s: %s", o.Device, lastLine(out))
		return "repaired", nil
	}
	o.Say("data: e2fsck -p on %s left errors (exit %d): %s; trying e2fsck -y", o.Device, code, lastLine(out))
	code, out, err = o.run(o.Fsck, "-f", "-y", o.Device)
	if err != nil {
		return "", fmt.Errorf("e2fsck: %w", err)
	}
	if code&^3 != 0 {
		return "", fmt.Errorf("e2fsck -y exit %d: %s", code, lastLine(out))
	}
	o.Say("data: e2fsck -y repaired %s: %s", o.Device, lastLine(out))
	return "repaired", nil
}

// recreate makes a new filesystem in place of an unrepairable one,
// keeping its files when they can be read and fit in SalvageMax.
func (o Options) recreate(size int64, res *Result) error {
	kept, n := o.salvage()
	o.Say("data: RECREATING the filesystem on %s; %s", o.Device, kept)
	if err := o.format(size, res, "recreating"); err != nil {
		return err
	}
	res.Recreated = true
	if n == 0 {
		return nil
	}
	if err := o.restoreSalvage(); err != nil {
		o.Say("data: putting salvaged files back: %v", err)
		return nil
	}
	res.Salvaged = n
	return nil
}

func (o Options) run(name string, args ...string) (int, string, error) {
	out, err := os.CreateTemp("", "datapart-out-")
	if err != nil {
		return 0, "", err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	code, err := o.Run(cmd)
	b, _ := os.ReadFile(out.Name())
	return code, strings.TrimSpace(string(b)), err
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
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
