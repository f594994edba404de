package initramfs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
)

// lz4LegacyMagic starts an LZ4 stream in the legacy frame format.
const lz4LegacyMagic = 0x184c2102

// WriteLZ4 writes the archive compressed in the legacy LZ4 frame format,
// the one the kernel's initramfs unpacker reads (CONFIG_RD_LZ4; `lz4 -l`).
// LZ4 unpacks about as fast as the archive can be read, so the image and
// the slot shrink by more than half at almost no boot time (measured in
// BENCHMARKS.md).
func (a *Archive) WriteLZ4(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	zw := lz4.NewWriter(cw)
	if err := zw.Apply(lz4.LegacyOption(true), lz4.CompressionLevelOption(lz4.Level9)); err != nil {
		return 0, fmt.Errorf("initramfs: lz4: %w", err)
	}
	if _, err := a.WriteTo(zw); err != nil {
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, fmt.Errorf("initramfs: lz4: %w", err)
	}
	return cw.n, nil
}

// Open returns the cpio stream in an initramfs file, decompressing it when
// it is LZ4 (legacy frame) compressed.
func Open(data []byte) io.Reader {
	if len(data) >= 4 && binary.LittleEndian.Uint32(data) == lz4LegacyMagic {
		return lz4.NewReader(bytes.NewReader(data))
	}
	return bytes.NewReader(data)
}
