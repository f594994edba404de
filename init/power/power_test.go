package power

import (
	"context"
	"os"
	"time"

	"encoding/binary"
	"golang.org/x/sys/unix"
	"testing"
	"unsafe"
)

func event(typ, code uint16, value int32) []byte {
	b := make([]byte, unsafe.Sizeof(inputEvent{}))
	off := 2 * int(unsafe.Sizeof(int(0)))
	binary.NativeEndian.PutUint16(b[off:], typ)
	binary.NativeEndian.PutUint16(b[off+2:], code)
	binary.NativeEndian.PutUint32(b[off+4:], uint32(value))
	return b
}

func TestIsPowerPress(t *testing.T) {
	tests := []struct {
		name string
		ev   []byte
		want bool
	}{
		{"press", event(evKey, keyPower, 1), true},
		{"release", event(evKey, keyPower, 0), false},
		{"autorepeat", event(evKey, keyPower, 2), false},
		{"other key", event(evKey, 28, 1), false},
		{"sync event", event(0, 0, 0), false},
		{"short read", event(evKey, keyPower, 1)[:8], false},
	}
	for _, tt := range tests {
		if got := IsPowerPress(tt.ev); got != tt.want {
			t.Errorf("%s: IsPowerPress = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestSignalsBecomeRequests sends the busybox stop signals to this process
// and checks what each one asks for.
func TestSignalsBecomeRequests(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reqs := Watch(ctx)
	tests := []struct {
		sig  unix.Signal
		want Action
	}{
		{unix.SIGTERM, Reboot},
		{unix.SIGUSR2, PowerOff},
		{unix.SIGINT, Reboot},
	}
	for _, tt := range tests {
		if err := unix.Kill(os.Getpid(), tt.sig); err != nil {
			t.Fatal(err)
		}
		select {
		case r := <-reqs:
			if r.Action != tt.want || r.Cause != tt.sig.String() {
				t.Errorf("%v: got %+v, want %v", tt.sig, r, tt.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: no request", tt.sig)
		}
	}
}
