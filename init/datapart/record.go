package datapart

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// recordSize is the tail of the partition kept out of the filesystem for
// the format record.
const recordSize = 4096

// RecordSize is how many bytes at the partition's end the format record
// takes: the filesystem stops short of them, and a grown partition
// (init/growpart) carries them to its new end.
const RecordSize = recordSize

const (
	recordMagic      = "EDGEGATE-DATA-FORMAT\n"
	recordFormatting = recordMagic + "state: formatting\n"
	recordDone       = recordMagic + "state: done\n"
)

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
// A non-empty populate is a directory whose tree mke2fs copies into the
// new filesystem.
func (o Options) format(size int64, res *Result, why, populate string) error {
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
	args := []string{"-q", "-F", "-t", "ext4", "-E", "nodiscard", "-L", o.Label}
	if populate != "" {
		args = append(args, "-d", populate)
	}
	args = append(args, o.Device, fmt.Sprintf("%dk", (size-recordSize)/1024))
	exit, out, err := o.run(o.Mkfs, args...)
	if err == nil && exit != (Exit{}) {
		err = fmt.Errorf("mke2fs %s", exit)
	}
	if err != nil {
		return fmt.Errorf("formatting data partition %s: %w: %s", o.Device, err, lastLine(out))
	}
	if err := writeRecord(o.Device, size, recordDone); err != nil {
		return err
	}
	res.Formatted = true
	return nil
}
