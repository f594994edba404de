// Package power turns the ways a gateway is asked to stop into one
// request: signals to PID 1 (busybox convention: SIGTERM reboots, SIGUSR2
// powers off, SIGINT is ctrl-alt-del and reboots) and the power key
// (QEMU's system_powerdown arrives as KEY_POWER from gpio-keys).
package power

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Action is what to do when the system stops.
type Action int

// Actions.
const (
	Reboot Action = iota
	PowerOff
)

func (a Action) String() string {
	if a == PowerOff {
		return "power off"
	}
	return "reboot"
}

// Request is one reason to stop.
type Request struct {
	Action Action
	Cause  string // "SIGTERM", "power key", ...
}

// Watch sends a Request on the returned channel for each stop signal and
// each press of a power key found under /dev/input. It also disables the
// kernel's immediate reboot on ctrl-alt-del so that becomes a SIGINT.
func Watch(ctx context.Context) <-chan Request {
	reqs := make(chan Request, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGUSR2, unix.SIGINT)
	if os.Getpid() == 1 {
		// Only PID 1 owns the machine's ctrl-alt-del behaviour.
		_ = unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF)
	}
	go func() {
		defer signal.Stop(sigs)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				r := Request{Action: Reboot, Cause: s.String()}
				if s == unix.SIGUSR2 {
					r.Action = PowerOff
				}
				send(ctx, reqs, r)
			}
		}
	}()
	devs, _ := filepath.Glob("/dev/input/event*")
	for _, d := range devs {
		go watchKeys(ctx, d, reqs)
	}
	return reqs
}

func send(ctx context.Context, ch chan<- Request, r Request) {
	select {
	case ch <- r:
	case <-ctx.Done():
	}
}

// inputEvent is struct input_event: a timeval of two C longs, then type,
// code and value. Go's int has the width of a C long on Linux/arm and arm64.
type inputEvent struct {
	Sec, Usec  int
	Type, Code uint16
	Value      int32
}

const (
	evKey    = 0x01
	keyPower = 116
)

// IsPowerPress reports whether ev is the power key going down.
func IsPowerPress(ev []byte) bool {
	var e inputEvent
	if len(ev) < int(unsafe.Sizeof(e)) {
		return false
	}
	off := 2 * int(unsafe.Sizeof(e.Sec))
	typ := binary.NativeEndian.Uint16(ev[off:])
	code := binary.NativeEndian.Uint16(ev[off+2:])
	value := int32(binary.NativeEndian.Uint32(ev[off+4:]))
	return typ == evKey && code == keyPower && value == 1
}

func watchKeys(ctx context.Context, dev string, reqs chan<- Request) {
	f, err := os.Open(dev)
	if err != nil {
		return
	}
	go func() { <-ctx.Done(); f.Close() }()
	buf := make([]byte, unsafe.Sizeof(inputEvent{}))
	for {
		if _, err := f.Read(buf); err != nil {
			return
		}
		if IsPowerPress(buf) {
			send(ctx, reqs, Request{Action: PowerOff, Cause: "power key on " + dev})
		}
	}
}

// Halt syncs the filesystems and reboots or powers off the machine. It
// returns only on failure.
func Halt(a Action) error {
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if a == PowerOff {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	if err := unix.Reboot(cmd); err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	return nil
}
