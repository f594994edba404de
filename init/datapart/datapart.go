// Package datapart mounts the gateway's persistent data partition, making
// its ext4 filesystem on the first boot, when the partition is still blank.
//
// The image ships the partition zeroed: cards differ in size and a
// filesystem made on the device fills whatever it is given. A partition
// that holds something other than ext4 is never formatted: that could be a
// user's data or a wrong device, and erasing it is not init's call.
package datapart

import (
	"bytes"
	"encoding/binary"
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
}

// Result reports what Mount did.
type Result struct {
	Before    State
	Formatted bool
}

// Mount formats the partition if it is blank, then mounts it.
func Mount(o Options) (Result, error) {
	f, err := os.Open(o.Device)
	if err != nil {
		return Result{}, fmt.Errorf("data partition %s: %w", o.Device, err)
	}
	state, err := Probe(f)
	f.Close()
	if err != nil {
		return Result{}, fmt.Errorf("data partition %s: %w", o.Device, err)
	}
	res := Result{Before: state}
	switch state {
	case Foreign:
		return res, fmt.Errorf("data partition %s holds something that is not ext4; refusing to format it", o.Device)
	case Blank:
		if err := format(o); err != nil {
			return res, err
		}
		res.Formatted = true
	}
	if err := os.MkdirAll(o.Target, 0o755); err != nil {
		return res, fmt.Errorf("data partition: %w", err)
	}
	if err := unix.Mount(o.Device, o.Target, "ext4", unix.MS_NOATIME|unix.MS_NODEV, ""); err != nil {
		return res, fmt.Errorf("mounting data partition %s on %s: %w", o.Device, o.Target, err)
	}
	return res, nil
}

func format(o Options) error {
	// -F: a partition, not a whole disk, is what we were given on purpose.
	cmd := exec.Command(o.Mkfs, "-q", "-F", "-t", "ext4", "-L", o.Label, o.Device)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("formatting data partition %s: %w: %s", o.Device, err, strings.TrimSpace(string(out)))
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
