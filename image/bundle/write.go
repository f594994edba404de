package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
)

// WindowSize is the zstd window bundles are compressed with and the
// largest a device accepts: 8 MiB of decoder memory. A 32 MiB window made
// a qemu-arm64 slot 3.4% smaller, not worth 24 MiB more RAM on a gateway
// that keeps running its pods while it updates.
const WindowSize = 8 << 20

// Params are what the signer states about a slot image.
type Params struct {
	Board     string
	Version   string
	Build     uint64
	MinBuild  uint64
	Downgrade bool
}

// Write writes a bundle of the slot image read from image to w, signed
// with key, and returns its manifest. The payload is compressed into a
// temporary file in tmpDir ("" for the system's) first: the manifest,
// which comes first, carries the payload's size.
func Write(w io.Writer, image io.Reader, p Params, key PrivateKey, tmpDir string) (Manifest, error) {
	tmp, err := os.CreateTemp(tmpDir, "edgegate-bundle-payload-")
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle payload: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	m := Manifest{
		Format: FormatVersion, Board: p.Board, Version: p.Version, Build: p.Build, MinBuild: p.MinBuild,
		Downgrade: p.Downgrade, Compression: CompressionZstd, KeyID: key.ID.String(),
	}
	m.ImageSize, m.ImageSHA256, m.PayloadSize, err = compress(tmp, image)
	if err != nil {
		return Manifest{}, err
	}
	if err := m.check(); err != nil {
		return Manifest{}, err
	}
	raw, err := m.Marshal()
	if err != nil {
		return Manifest{}, err
	}
	if len(raw) > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%w: manifest of %d bytes, at most %d", ErrMalformed, len(raw), MaxManifestSize)
	}
	if _, err := w.Write(header(key.ID, raw, ed25519.Sign(key.Key, raw))); err != nil {
		return Manifest{}, fmt.Errorf("bundle header: %w", err)
	}
	if _, err := w.Write(raw); err != nil {
		return Manifest{}, fmt.Errorf("bundle manifest: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return Manifest{}, fmt.Errorf("bundle payload: %w", err)
	}
	if n, err := io.Copy(w, tmp); err != nil || n != m.PayloadSize {
		return Manifest{}, fmt.Errorf("bundle payload: %d of %d bytes written: %v", n, m.PayloadSize, err)
	}
	return m, nil
}

// header is the fixed part of a bundle before the manifest.
func header(id KeyID, manifest, sig []byte) []byte {
	h := make([]byte, HeaderSize)
	copy(h, Magic)
	copy(h[keyIDOffset:], id[:])
	binary.BigEndian.PutUint32(h[lengthOffset:], uint32(len(manifest)))
	copy(h[sigOffset:], sig)
	return h
}

// compress writes image to dst with zstd at its best ratio (a bundle is
// made once and sent to every gateway) and returns the image's size and
// sha256 and the compressed size.
func compress(dst io.Writer, image io.Reader) (size int64, sum string, compressed int64, err error) {
	out := &countingWriter{w: dst}
	enc, err := zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithWindowSize(WindowSize))
	if err != nil {
		return 0, "", 0, fmt.Errorf("zstd: %w", err)
	}
	h := sha256.New()
	size, err = io.Copy(io.MultiWriter(enc, h), image)
	if cerr := enc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, "", 0, fmt.Errorf("compressing the slot image: %w", err)
	}
	return size, hex.EncodeToString(h.Sum(nil)), out.n, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
