// Package ubootscr writes U-Boot script images (boot.scr): the legacy
// uImage format with a script payload, as `mkimage -T script -C none`
// makes them, with a fixed timestamp so the bytes are reproducible.
package ubootscr

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	magic      = 0x27051956
	headerSize = 64
	nameSize   = 32

	osLinux    = 5
	archARM    = 2
	archARM64  = 22
	typeScript = 6
	compNone   = 0
)

// Arch selects the architecture field of the header.
type Arch string

// Architectures U-Boot checks a script against.
const (
	ARM   Arch = "arm"
	ARM64 Arch = "arm64"
)

// Encode returns the boot.scr bytes for script. name goes into the image
// header (at most 31 bytes); mtime is the header timestamp (seconds since
// the epoch).
func Encode(script string, arch Arch, name string, mtime uint32) ([]byte, error) {
	var archID byte
	switch arch {
	case ARM:
		archID = archARM
	case ARM64:
		archID = archARM64
	default:
		return nil, fmt.Errorf("boot script: unknown arch %q", arch)
	}
	if len(name) >= nameSize {
		return nil, fmt.Errorf("boot script: name %q longer than %d bytes", name, nameSize-1)
	}
	// A script image is a multi-file payload: a table of big-endian sizes
	// ended by a zero, then the files. It holds one file, the script.
	payload := make([]byte, 8, 8+len(script))
	binary.BigEndian.PutUint32(payload[0:4], uint32(len(script)))
	payload = append(payload, script...)

	h := make([]byte, headerSize)
	binary.BigEndian.PutUint32(h[0:4], magic)
	binary.BigEndian.PutUint32(h[8:12], mtime)
	binary.BigEndian.PutUint32(h[12:16], uint32(len(payload)))
	// load address and entry point stay 0 for scripts
	binary.BigEndian.PutUint32(h[24:28], crc32.ChecksumIEEE(payload))
	h[28], h[29], h[30], h[31] = osLinux, archID, typeScript, compNone
	copy(h[32:], name)
	binary.BigEndian.PutUint32(h[4:8], crc32.ChecksumIEEE(h))
	return append(h, payload...), nil
}

// Decode checks a boot.scr and returns its script text.
func Decode(b []byte) (string, error) {
	if len(b) < headerSize+8 {
		return "", fmt.Errorf("boot script: %d bytes is too short", len(b))
	}
	h := append([]byte(nil), b[:headerSize]...)
	if binary.BigEndian.Uint32(h[0:4]) != magic {
		return "", fmt.Errorf("boot script: bad magic")
	}
	hcrc := binary.BigEndian.Uint32(h[4:8])
	binary.BigEndian.PutUint32(h[4:8], 0)
	if crc32.ChecksumIEEE(h) != hcrc {
		return "", fmt.Errorf("boot script: header checksum mismatch")
	}
	size := binary.BigEndian.Uint32(h[12:16])
	payload := b[headerSize:]
	if uint32(len(payload)) < size {
		return "", fmt.Errorf("boot script: payload truncated: %d of %d bytes", len(payload), size)
	}
	payload = payload[:size]
	if crc32.ChecksumIEEE(payload) != binary.BigEndian.Uint32(h[24:28]) {
		return "", fmt.Errorf("boot script: payload checksum mismatch")
	}
	n := binary.BigEndian.Uint32(payload[0:4])
	if h[30] != typeScript || 8+n > size {
		return "", fmt.Errorf("boot script: not a script image")
	}
	return string(payload[8 : 8+n]), nil
}
