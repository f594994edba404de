package slotstate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Device is the boot disk, or a file standing for it.
type Device interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
}

// ErrUnreadable: neither copy holds a valid record. The boot script then
// boots slot a as built; State returned with it is Initial.
var ErrUnreadable = errors.New("slot state unreadable: both copies corrupt or blank")

// Pair is both copies as read.
type Pair struct {
	States [2]State
	Errs   [2]error // nil for a valid copy
}

// Current is the index of the valid copy with the highest sequence (copy
// 0 on a tie, as the boot script chooses), or -1 when neither is valid.
func (p Pair) Current() int {
	switch {
	case p.Errs[0] == nil && p.Errs[1] == nil:
		if p.States[1].Seq > p.States[0].Seq {
			return 1
		}
		return 0
	case p.Errs[0] == nil:
		return 0
	case p.Errs[1] == nil:
		return 1
	}
	return -1
}

// State is the current state, or Initial and ErrUnreadable (with both
// copies' problems) when neither copy is valid.
func (p Pair) State() (State, error) {
	c := p.Current()
	if c < 0 {
		return Initial(), fmt.Errorf("%w: copy 0: %v; copy 1: %v", ErrUnreadable, p.Errs[0], p.Errs[1])
	}
	return p.States[c], nil
}

// ReadPair reads both copies from a disk.
func ReadPair(r io.ReaderAt) (Pair, error) {
	var p Pair
	buf := make([]byte, SectorSize)
	for i, lba := range Copies {
		if _, err := r.ReadAt(buf, lba*SectorSize); err != nil {
			return Pair{}, fmt.Errorf("slot state: reading copy %d (sector %d): %w", i, lba, err)
		}
		p.States[i], p.Errs[i] = Parse(buf)
	}
	return p, nil
}

// ReadPairFile reads both copies from the disk or disk image at path.
func ReadPairFile(path string) (Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return Pair{}, fmt.Errorf("slot state: %w", err)
	}
	defer f.Close()
	return ReadPair(f)
}

// WriteInitial writes Initial to both copies: the image as built.
func WriteInitial(w io.WriterAt) error {
	rec := Initial().Marshal()
	for i, lba := range Copies {
		if _, err := w.WriteAt(rec, lba*SectorSize); err != nil {
			return fmt.Errorf("slot state: writing copy %d (sector %d): %w", i, lba, err)
		}
	}
	return nil
}

// Store reads and changes the state on a boot disk. Each change is one
// sector write over the copy that is not current, made durable before
// the change returns.
//
// init (its trial commit) and the update service are two processes that
// change the same record. A change reads the current copy and writes the
// other, so two changes interleaved would both write the same sequence
// number and one of them would be lost. Each read-modify-write therefore
// holds an exclusive flock on the device (shared for a read), when the
// device is a file; the mutex orders the Store's own callers.
type Store struct {
	mu  sync.Mutex
	dev Device
}

// NewStore returns a Store over dev.
func NewStore(dev Device) *Store { return &Store{dev: dev} }

// Open opens the boot disk (/dev/vda, /dev/mmcblk0) for the state. Writes
// are O_DSYNC: each is on the medium when WriteAt returns.
func Open(disk string) (*Store, error) {
	f, err := os.OpenFile(disk, os.O_RDWR|os.O_SYNC, 0)
	if err != nil {
		return nil, fmt.Errorf("slot state: %w", err)
	}
	return NewStore(f), nil
}

// Close closes the device when it is closable.
func (s *Store) Close() error {
	if c, ok := s.dev.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Load returns the current state (Initial with ErrUnreadable when both
// copies are bad).
func (s *Store) Load() (State, error) {
	unlock, err := s.lock(unix.LOCK_SH)
	if err != nil {
		return State{}, err
	}
	defer unlock()
	p, err := ReadPair(s.dev)
	if err != nil {
		return State{}, err
	}
	return p.State()
}

// Invalidate marks target unbootable (see State.Invalidate).
func (s *Store) Invalidate(target Slot) (State, error) {
	return s.change(func(c State) (State, bool, error) {
		n, err := c.Invalidate(target)
		return n, true, err
	})
}

// Trial arms target for a trial boot (see State.Trial).
func (s *Store) Trial(target Slot) (State, error) {
	return s.change(func(c State) (State, bool, error) {
		n, err := c.Trial(target)
		return n, true, err
	})
}

// Commit commits running (see State.Commit); a committed slot is left as
// it is, without a write.
func (s *Store) Commit(running Slot) (State, error) {
	return s.change(func(c State) (State, bool, error) { return c.Commit(running) })
}

// Repair writes the current state anew when a copy is bad, so one more
// torn write cannot leave none; with both bad it writes Initial (what the
// boot script booted). It returns the state and whether it wrote.
func (s *Store) Repair() (State, bool, error) {
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return State{}, false, err
	}
	defer unlock()
	p, err := ReadPair(s.dev)
	if err != nil {
		return State{}, false, err
	}
	c := p.Current()
	if c >= 0 && p.Errs[1-c] == nil {
		return p.States[c], false, nil
	}
	cur, _ := p.State()
	n, err := cur.next()
	if err != nil {
		return State{}, false, err
	}
	return n, true, s.write(1-max(c, 0), n)
}

// change applies f to the current state and writes the result over the
// other copy. Unreadable copies count as Initial, as the boot script
// treats them.
func (s *Store) change(f func(State) (State, bool, error)) (State, error) {
	unlock, err := s.lock(unix.LOCK_EX)
	if err != nil {
		return State{}, err
	}
	defer unlock()
	p, err := ReadPair(s.dev)
	if err != nil {
		return State{}, err
	}
	cur, _ := p.State()
	n, changed, err := f(cur)
	if err != nil || !changed {
		return n, err
	}
	// Both bad: either copy; otherwise the one that is not current.
	return n, s.write(1-max(p.Current(), 0), n)
}

// lock takes the Store's mutex and, when the device is a file, a flock of
// kind how (LOCK_SH or LOCK_EX) on it; unlock releases both.
func (s *Store) lock(how int) (unlock func(), err error) {
	s.mu.Lock()
	f, ok := s.dev.(interface{ Fd() uintptr })
	if !ok {
		return s.mu.Unlock, nil
	}
	fd := int(f.Fd())
	for {
		err = unix.Flock(fd, how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("slot state: locking the device: %w", err)
	}
	return func() {
		_ = unix.Flock(fd, unix.LOCK_UN) // closing the device releases it too
		s.mu.Unlock()
	}, nil
}

func (s *Store) write(copyIdx int, st State) error {
	lba := Copies[copyIdx]
	if _, err := s.dev.WriteAt(st.Marshal(), lba*SectorSize); err != nil {
		return fmt.Errorf("slot state: writing copy %d (sector %d): %w", copyIdx, lba, err)
	}
	if err := s.dev.Sync(); err != nil {
		return fmt.Errorf("slot state: flushing copy %d: %w", copyIdx, err)
	}
	return nil
}
