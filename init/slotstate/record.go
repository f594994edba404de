// Package slotstate is the slot state record: which slot is committed,
// which is on trial with how many boots left, and what happened last. The
// boot script (image/bootscript.go) and init read and write the same
// record, so it is laid out for what U-Boot's shell can do: 32-bit
// little-endian words it reads with itest/setexpr and changes with mw.l,
// and a CRC-32 its crc32 command computes.
//
// The record is one 512-byte sector, kept twice in the sectors before the
// first partition (which starts at 1 MiB), each copy with a sequence
// number and a CRC. A writer reads both, takes the valid copy with the
// highest sequence, and writes the changed state with the next sequence
// over the other copy. A sector write cut short by a power loss leaves
// that copy with a bad CRC and the current one untouched, so every reader
// sees the old state or the new one. The boot FAT is not used for it:
// U-Boot's fatwrite rewrites the FAT, the directory entry and the data in
// several writes, and a cut between them can leave a file neither old nor
// new, or a FAT U-Boot then refuses.
package slotstate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Record layout: byte offsets of the 32-bit little-endian words.
const (
	SectorSize = 512

	offMagic     = 0
	offVersion   = 4
	offSeq       = 8
	offActive    = 12
	offTrial     = 16
	offTries     = 20
	offEvent     = 24
	offEventSlot = 28
	// OffCRC is where the CRC-32 (IEEE) of bytes [0, OffCRC) is stored,
	// big-endian: the byte order U-Boot's `crc32 addr len dest` stores.
	OffCRC = SectorSize - 4

	// Magic is "EGSS" read as a little-endian word.
	Magic   = 0x53534745
	Version = 1
)

// Copies are the sectors of the boot disk holding the two copies: apart,
// so no single flash page holds both.
var Copies = [2]int64{1024, 1536}

// MaxSeq is the last sequence init or the update service writes. U-Boot
// adds at most two (counting a try, falling back) after it, and compares
// sequences as unsigned 32-bit numbers; a sequence that wrapped to 0 would
// lose to the older copy. At a handful of writes per boot this is more
// boots than a card survives.
const MaxSeq = 0xFFFF_FF00

// Event is what the last write did.
type Event uint32

// Events. The bootloader writes Tried and FellBack; init writes Committed;
// the update service writes Invalidated and Armed; the image builder Built.
const (
	Built       Event = iota // as the image was built: slot a committed
	Invalidated              // the slot is being written and must not boot
	Armed                    // the slot was written and verified: boot it next, on trial
	Tried                    // the bootloader started the trial slot, counting the try
	Committed                // init found the trial slot healthy and committed it
	FellBack                 // the trial slot used up its tries: back to the committed slot
)

func (e Event) String() string {
	switch e {
	case Built:
		return "built"
	case Invalidated:
		return "invalidated"
	case Armed:
		return "armed"
	case Tried:
		return "tried"
	case Committed:
		return "committed"
	case FellBack:
		return "fell-back"
	}
	return fmt.Sprintf("event(%d)", uint32(e))
}

// State is one record.
type State struct {
	Seq    uint32
	Active Slot // the committed slot: always bootable
	// TrialSlot is the slot to boot on trial (NoSlot when none), while
	// TriesLeft > 0; the bootloader counts each try before booting it.
	TrialSlot Slot
	TriesLeft uint32
	// Last is the last transition and the slot it was about: Committed b,
	// FellBack b (b failed its trial and is not tried again until an
	// update writes it anew), Invalidated b …
	Last     Event
	LastSlot Slot
}

// Initial is the state an image is built with: slot a committed.
func Initial() State {
	return State{Seq: 1, Active: A, Last: Built, LastSlot: A}
}

// Valid says whether s could have been written by edgegate.
func (s State) Valid() error {
	switch {
	case s.Active != A && s.Active != B:
		return fmt.Errorf("active slot %q is not a or b", s.Active)
	case s.TrialSlot == s.Active:
		return fmt.Errorf("slot %s is both committed and on trial", s.Active)
	case s.TrialSlot == NoSlot && s.TriesLeft != 0:
		return fmt.Errorf("%d tries left with no slot on trial", s.TriesLeft)
	case s.Last > FellBack:
		return fmt.Errorf("unknown event %d", uint32(s.Last))
	}
	return nil
}

// Marshal encodes s as a sector with its CRC.
func (s State) Marshal() []byte {
	b := make([]byte, SectorSize)
	le := binary.LittleEndian
	le.PutUint32(b[offMagic:], Magic)
	le.PutUint32(b[offVersion:], Version)
	le.PutUint32(b[offSeq:], s.Seq)
	le.PutUint32(b[offActive:], s.Active.code())
	le.PutUint32(b[offTrial:], s.TrialSlot.code())
	le.PutUint32(b[offTries:], s.TriesLeft)
	le.PutUint32(b[offEvent:], uint32(s.Last))
	le.PutUint32(b[offEventSlot:], s.LastSlot.code())
	binary.BigEndian.PutUint32(b[OffCRC:], crc32.ChecksumIEEE(b[:OffCRC]))
	return b
}

// ErrBlank is a sector that holds no record at all (all zeros).
var ErrBlank = errors.New("no record (blank sector)")

// Parse decodes and checks one sector.
func Parse(b []byte) (State, error) {
	if len(b) < SectorSize {
		return State{}, fmt.Errorf("slot state: %d bytes, want %d", len(b), SectorSize)
	}
	b = b[:SectorSize]
	le := binary.LittleEndian
	if m := le.Uint32(b[offMagic:]); m != Magic {
		if m == 0 && binary.BigEndian.Uint32(b[OffCRC:]) == 0 {
			return State{}, fmt.Errorf("slot state: %w", ErrBlank)
		}
		return State{}, fmt.Errorf("slot state: bad magic %#08x", m)
	}
	if v := le.Uint32(b[offVersion:]); v != Version {
		return State{}, fmt.Errorf("slot state: version %d, want %d", v, Version)
	}
	if got, want := crc32.ChecksumIEEE(b[:OffCRC]), binary.BigEndian.Uint32(b[OffCRC:]); got != want {
		return State{}, fmt.Errorf("slot state: checksum %#08x, record says %#08x (torn or corrupt)", got, want)
	}
	s := State{Seq: le.Uint32(b[offSeq:]), TriesLeft: le.Uint32(b[offTries:]), Last: Event(le.Uint32(b[offEvent:]))}
	var err error
	if s.Active, err = slotFromCode(le.Uint32(b[offActive:]), false); err != nil {
		return State{}, fmt.Errorf("slot state: active: %w", err)
	}
	if s.TrialSlot, err = slotFromCode(le.Uint32(b[offTrial:]), true); err != nil {
		return State{}, fmt.Errorf("slot state: trial: %w", err)
	}
	if s.LastSlot, err = slotFromCode(le.Uint32(b[offEventSlot:]), true); err != nil {
		return State{}, fmt.Errorf("slot state: event slot: %w", err)
	}
	if err := s.Valid(); err != nil {
		return State{}, fmt.Errorf("slot state: %w", err)
	}
	return s, nil
}

// String is one line for the console, the log and `ota status`.
func (s State) String() string {
	line := fmt.Sprintf("slot %s committed", s.Active)
	if s.TrialSlot != NoSlot {
		line += fmt.Sprintf(", slot %s on trial (%d tries left)", s.TrialSlot, s.TriesLeft)
	}
	return fmt.Sprintf("%s; last: %s; seq %d", line, s.describeLast(), s.Seq)
}

func (s State) describeLast() string {
	switch s.Last {
	case Built:
		return "as built"
	case Invalidated:
		return fmt.Sprintf("slot %s invalidated for an update", s.LastSlot)
	case Armed:
		return fmt.Sprintf("slot %s written and armed for a trial boot", s.LastSlot)
	case Tried:
		return fmt.Sprintf("slot %s booted on trial", s.LastSlot)
	case Committed:
		return fmt.Sprintf("slot %s committed after its trial", s.LastSlot)
	case FellBack:
		return fmt.Sprintf("slot %s failed its trial; not booted again until an update writes it", s.LastSlot)
	}
	return s.Last.String()
}
