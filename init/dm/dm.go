// Package dm sets up device-mapper devices through the kernel's ioctl
// interface (/dev/mapper/control), the one dmsetup and veritysetup use:
// create a device, load its table, activate it, read its status, remove
// it. PID 1 needs it before any userland tool could run.
package dm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ControlPath is device-mapper's control node; devtmpfs creates it when
// the dm-mod module loads.
const ControlPath = "/dev/mapper/control"

// The ioctl interface version this package speaks. The kernel accepts any
// request of the same major version and at most its own minor.
var version = [3]uint32{4, 0, 0}

const (
	headerSize = unix.SizeofDmIoctl      // struct dm_ioctl
	specSize   = unix.SizeofDmTargetSpec // struct dm_target_spec
	// bufferSize holds a header and the status of one target, with room
	// for long tables.
	bufferSize = 16 << 10
)

// Target is one line of a device's table: Length sectors (512 bytes)
// from Start mapped by the target Type with Params.
type Target struct {
	Start, Length uint64
	Type          string
	Params        string
}

// Device is an active mapped device.
type Device struct {
	Name         string
	Major, Minor uint32
}

// Path is the device's node: devtmpfs names it dm-<minor>.
func (d Device) Path() string { return fmt.Sprintf("/dev/dm-%d", d.Minor) }

// Control is an open device-mapper control node. Holding one open keeps
// the device's status readable after /dev is gone (the initramfs unmounts
// its /dev before it hands over to the root's init).
type Control struct{ fd int }

// OpenControl opens ControlPath.
func OpenControl() (*Control, error) {
	fd, err := unix.Open(ControlPath, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dm: %s: %w (is the dm-mod module loaded?)", ControlPath, err)
	}
	return &Control{fd: fd}, nil
}

// Close closes the control node.
func (c *Control) Close() error { return unix.Close(c.fd) }

// Create makes the device name with one target and activates it;
// readOnly refuses writes to it. On failure nothing is left behind.
func (c *Control) Create(name string, t Target, readOnly bool) (Device, error) {
	reply, err := ioctl(c.fd, unix.DM_DEV_CREATE, request(name, 0, nil, 0))
	if err != nil {
		return Device{}, fmt.Errorf("dm: creating %s: %w", name, err)
	}
	dev := binary.NativeEndian.Uint64(reply[40:48])
	d := Device{Name: name, Major: unix.Major(dev), Minor: unix.Minor(dev)}
	var flags uint32
	if readOnly {
		flags = unix.DM_READONLY_FLAG
	}
	spec, err := targetSpec(t)
	if err == nil {
		_, err = ioctl(c.fd, unix.DM_TABLE_LOAD, request(name, flags, spec, 1))
		if err != nil {
			err = fmt.Errorf("loading the table (%s %s): %w", t.Type, t.Params, err)
		}
	}
	if err == nil {
		// DM_DEV_SUSPEND without DM_SUSPEND_FLAG resumes: the loaded
		// table becomes the live one.
		if _, err = ioctl(c.fd, unix.DM_DEV_SUSPEND, request(name, 0, nil, 0)); err != nil {
			err = fmt.Errorf("activating: %w", err)
		}
	}
	if err != nil {
		_, _ = ioctl(c.fd, unix.DM_DEV_REMOVE, request(name, 0, nil, 0))
		return Device{}, fmt.Errorf("dm: %s: %w", name, err)
	}
	return d, nil
}

// Status is the status line of the device's first target, e.g. "V" or
// "C" for dm-verity (verified so far, corruption seen).
func (c *Control) Status(name string) (string, error) {
	reply, err := ioctl(c.fd, unix.DM_TABLE_STATUS, request(name, 0, nil, 0))
	if err != nil {
		return "", fmt.Errorf("dm: status of %s: %w", name, err)
	}
	return parseStatus(reply)
}

// Remove deactivates and removes the device.
func (c *Control) Remove(name string) error {
	if _, err := ioctl(c.fd, unix.DM_DEV_REMOVE, request(name, 0, nil, 0)); err != nil {
		return fmt.Errorf("dm: removing %s: %w", name, err)
	}
	return nil
}

// Status opens the control node for one look at the device's status.
func Status(name string) (string, error) {
	c, err := OpenControl()
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.Status(name)
}

// request lays out struct dm_ioctl for name, followed by payload, in a
// buffer of bufferSize the kernel may fill with its reply.
func request(name string, flags uint32, payload []byte, targets uint32) []byte {
	b := make([]byte, bufferSize)
	e := binary.NativeEndian
	for i, v := range version {
		e.PutUint32(b[4*i:], v)
	}
	e.PutUint32(b[12:], bufferSize) // data_size: the whole buffer
	e.PutUint32(b[16:], headerSize) // data_start
	e.PutUint32(b[20:], targets)    // target_count
	e.PutUint32(b[28:], flags)
	copy(b[48:48+unix.DM_NAME_LEN-1], name)
	copy(b[headerSize:], payload)
	return b
}

// targetSpec is struct dm_target_spec followed by the parameters, NUL
// terminated and padded to 8 bytes, as the kernel walks them.
func targetSpec(t Target) ([]byte, error) {
	if len(t.Type) >= unix.DM_MAX_TYPE_NAME {
		return nil, fmt.Errorf("target type %q longer than %d bytes", t.Type, unix.DM_MAX_TYPE_NAME-1)
	}
	params := append([]byte(t.Params), 0)
	size := (specSize + len(params) + 7) &^ 7
	if headerSize+size > bufferSize {
		return nil, fmt.Errorf("table of %d bytes does not fit a %d-byte request", size, bufferSize)
	}
	b := make([]byte, size)
	e := binary.NativeEndian
	e.PutUint64(b[0:], t.Start)
	e.PutUint64(b[8:], t.Length)
	e.PutUint32(b[20:], uint32(size)) // next: the end of this spec
	copy(b[24:24+unix.DM_MAX_TYPE_NAME], t.Type)
	copy(b[specSize:], params)
	return b, nil
}

// parseStatus reads the first target's status string from a
// DM_TABLE_STATUS reply.
func parseStatus(reply []byte) (string, error) {
	e := binary.NativeEndian
	flags := e.Uint32(reply[28:])
	if flags&unix.DM_BUFFER_FULL_FLAG != 0 {
		return "", errors.New("dm: status does not fit the buffer")
	}
	if e.Uint32(reply[20:]) == 0 {
		return "", errors.New("dm: the device has no active table")
	}
	start := int(e.Uint32(reply[16:]))
	if start+specSize > len(reply) {
		return "", fmt.Errorf("dm: status reply starts at %d, past its end", start)
	}
	s := reply[start+specSize:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return string(s), nil
}

func ioctl(fd int, req uint, buf []byte) ([]byte, error) {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&buf[0])))
	if errno != 0 {
		return nil, os.NewSyscallError("ioctl", errno)
	}
	return buf, nil
}
