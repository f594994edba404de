package slotstate

import (
	"os"
	"testing"
	"time"
)

// pausing is a device that stops its first read until released: the
// moment between a change's read and its write.
type pausing struct {
	*os.File
	read    chan struct{} // closed at the first read
	release chan struct{} // the first read returns once this is closed
	paused  bool
}

func (p *pausing) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.File.ReadAt(b, off)
	if !p.paused {
		p.paused = true
		close(p.read)
		<-p.release
	}
	return n, err
}

// TestTwoStoresOneDevice: init and the update service each hold a Store
// over the boot disk. A change by one while the other is between its
// read and its write must wait, not write over the same copy with the
// same sequence and lose the other's change.
func TestTwoStoresOneDevice(t *testing.T) {
	f := disk(t, [2][]byte{Initial().Marshal(), Initial().Marshal()})
	second, err := os.OpenFile(f.Name(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	slow := &pausing{File: f, read: make(chan struct{}), release: make(chan struct{})}
	first := NewStore(slow)

	firstDone := make(chan error, 1)
	go func() {
		_, err := first.Invalidate(B)
		firstDone <- err
	}()
	<-slow.read // the first change has read the state and not written yet
	secondDone := make(chan error, 1)
	go func() {
		_, err := NewStore(second).Trial(B)
		secondDone <- err
	}()
	select {
	case err := <-secondDone:
		t.Errorf("the second store changed the state while the first was between read and write (err %v)", err)
		secondDone <- err
	case <-time.After(200 * time.Millisecond):
	}
	close(slow.release)
	if err := <-firstDone; err != nil {
		t.Fatalf("first change: %v", err)
	}
	select {
	case err := <-secondDone:
		if err != nil {
			t.Fatalf("second change: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second change never got the lock")
	}
	got, err := NewStore(second).Load()
	want := State{Seq: 3, Active: A, TrialSlot: B, TriesLeft: TrialTries, Last: Armed, LastSlot: B}
	if err != nil || got != want {
		t.Errorf("state after both changes = %v, %v; want %v (both applied, in order)", got, err, want)
	}
}
