package bundle

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/klauspost/compress/zstd"
)

// Policy is what a device accepts: bundles for its board, signed by one
// of its keys, no older than what it runs.
type Policy struct {
	Board string
	// Build is the running build number; a bundle with a lower one is
	// refused unless it is a signed downgrade.
	Build uint64
	Keys  KeyRing
}

// Reader yields a verified bundle's slot image. Read fails with
// ErrTruncated, ErrOversized or ErrCorrupt as soon as the stream shows
// it; it returns io.EOF only once the whole image was read and its size
// and sha256 matched the manifest. Bytes it returned before a failure
// must be thrown away (the slot they were written to stays invalid).
type Reader struct {
	m       Manifest
	src     io.Reader
	payload *payloadReader
	dec     *zstd.Decoder
	hash    hash.Hash
	n       int64 // image bytes returned so far
	err     error // sticky: the first failure, or io.EOF after success
}

// Open reads and checks a bundle's header and manifest from src against
// the policy, without reading past the manifest. The error wraps one of
// this package's sentinels (ErrUnknownKey, ErrBadSignature, ErrOtherBoard,
// ...), or is src's own read error. Close the Reader when done.
func Open(src io.Reader, p Policy) (*Reader, error) {
	m, err := readManifest(src, p.Keys)
	if err != nil {
		return nil, err
	}
	if err := p.check(m); err != nil {
		return nil, err
	}
	payload := &payloadReader{r: src, left: m.PayloadSize}
	// One decoder goroutine: a device writes what it decompresses as
	// fast as its card takes it, and the lowmem mode keeps the buffers
	// to the window.
	dec, err := zstd.NewReader(payload, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(WindowSize))
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return &Reader{m: m, src: src, payload: payload, dec: dec, hash: sha256.New()}, nil
}

// Manifest returns the bundle's verified manifest.
func (r *Reader) Manifest() Manifest { return r.m }

// Read reads the slot image.
func (r *Reader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.dec.Read(b)
	over := r.n + int64(n) - r.m.ImageSize
	if over > 0 {
		n -= int(over)
	}
	r.hash.Write(b[:n])
	r.n += int64(n)
	switch {
	case over > 0:
		err = r.oversized()
	case err == io.EOF:
		err = r.finish()
	case err != nil:
		err = r.payloadErr(err)
	case r.n == r.m.ImageSize:
		// The decoder may hand over the last bytes without io.EOF; check
		// the end now rather than on a call that may never come.
		err = r.end()
	}
	if err != nil {
		r.err = err
		r.dec.Close()
	}
	return n, err
}

func (r *Reader) oversized() error {
	return fmt.Errorf("%w: the payload decompresses to more than the manifest's %d bytes", ErrOversized, r.m.ImageSize)
}

// end reads on until the decoder reports its end, to tell a payload that
// ends with the image from one that goes on.
func (r *Reader) end() error {
	var one [1]byte
	for {
		n, err := r.dec.Read(one[:])
		switch {
		case n > 0:
			return r.oversized()
		case err == io.EOF:
			return r.finish()
		case err != nil:
			return r.payloadErr(err)
		}
	}
}

// finish checks a payload whose decompression has ended: the image's
// size and sha256, and that the stream ends with the payload.
func (r *Reader) finish() error {
	if r.payload.truncated || r.payload.err != nil {
		// The decoder may take a source's early end for the end of its
		// last frame.
		return r.payloadErr(io.ErrUnexpectedEOF)
	}
	if r.n < r.m.ImageSize {
		return fmt.Errorf("%w: the payload decompresses to %d bytes, the manifest says %d", ErrCorrupt, r.n, r.m.ImageSize)
	}
	if r.payload.left > 0 {
		return fmt.Errorf("%w: %d bytes of payload after the compressed image", ErrCorrupt, r.payload.left)
	}
	var one [1]byte
	switch _, err := io.ReadFull(r.src, one[:]); {
	case err == nil:
		return fmt.Errorf("%w: the stream goes on after the payload's %d bytes", ErrOversized, r.m.PayloadSize)
	case err != io.EOF:
		return fmt.Errorf("reading the bundle: %w", err)
	}
	if sum := hex.EncodeToString(r.hash.Sum(nil)); sum != r.m.ImageSHA256 {
		return fmt.Errorf("%w: the image's sha256 is %s, the manifest says %s", ErrCorrupt, sum, r.m.ImageSHA256)
	}
	return io.EOF
}

// payloadErr names a decoder failure: the stream ended early, the source
// failed, or the payload is not what was signed.
func (r *Reader) payloadErr(err error) error {
	switch {
	case r.payload.truncated:
		return fmt.Errorf("%w: the stream ends %d bytes into the payload's %d", ErrTruncated, r.m.PayloadSize-r.payload.left, r.m.PayloadSize)
	case r.payload.err != nil:
		return fmt.Errorf("reading the bundle: %w", r.payload.err)
	}
	if r.payload.left == 0 {
		return fmt.Errorf("%w: the compressed image does not end with the payload's %d bytes: %v", ErrCorrupt, r.m.PayloadSize, err)
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

// Close releases the decoder. It does not close the source.
func (r *Reader) Close() error {
	r.dec.Close()
	if r.err == nil {
		r.err = errors.New("bundle reader closed")
	}
	return nil
}

// readManifest reads the header and the manifest, checks the signature
// with the key the header names, then parses the manifest.
func readManifest(src io.Reader, keys KeyRing) (Manifest, error) {
	var hdr [HeaderSize]byte
	if _, err := io.ReadFull(src, hdr[:len(Magic)]); err != nil {
		return Manifest{}, readErr("magic", err)
	}
	if string(hdr[:len(Magic)]) != Magic {
		return Manifest{}, fmt.Errorf("%w: the stream starts with %q, not %q", ErrNotBundle, hdr[:len(Magic)], Magic)
	}
	if _, err := io.ReadFull(src, hdr[len(Magic):]); err != nil {
		return Manifest{}, readErr("header", err)
	}
	var id KeyID
	copy(id[:], hdr[keyIDOffset:])
	key, ok := keys.Lookup(id)
	if !ok {
		return Manifest{}, fmt.Errorf("%w: signed by key %s, trusted: %v", ErrUnknownKey, id, keys.IDs())
	}
	size := binary.BigEndian.Uint32(hdr[lengthOffset:])
	if size == 0 || size > MaxManifestSize {
		return Manifest{}, fmt.Errorf("%w: a manifest of %d bytes, at most %d", ErrMalformed, size, MaxManifestSize)
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(src, raw); err != nil {
		return Manifest{}, readErr("manifest", err)
	}
	if !ed25519.Verify(key, raw, hdr[sigOffset:]) {
		return Manifest{}, fmt.Errorf("%w: the manifest does not match its signature by key %s", ErrBadSignature, id)
	}
	m, err := parseManifest(raw)
	if err != nil {
		return Manifest{}, err
	}
	if m.KeyID != id.String() {
		return Manifest{}, fmt.Errorf("%w: manifest names key %s, the header %s", ErrMalformed, m.KeyID, id)
	}
	return m, nil
}

func readErr(part string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: the stream ends in the bundle's %s", ErrTruncated, part)
	}
	return fmt.Errorf("reading the bundle's %s: %w", part, err)
}

// check applies the policy to a verified manifest.
func (p Policy) check(m Manifest) error {
	if m.Board != p.Board {
		return fmt.Errorf("%w: the bundle is for %s, this gateway is %s", ErrOtherBoard, m.Board, p.Board)
	}
	if m.MinBuild > p.Build {
		return fmt.Errorf("%w: build %d needs build %d or later running, this gateway runs %d", ErrBelowMinimum, m.Build, m.MinBuild, p.Build)
	}
	if m.Build < p.Build && !m.Downgrade {
		return fmt.Errorf("%w: build %d (%s) is older than the running build %d and not a signed downgrade", ErrOlderBuild, m.Build, m.Version, p.Build)
	}
	return nil
}

// payloadReader hands the decoder exactly the manifest's payload bytes
// and records why the source stopped.
type payloadReader struct {
	r         io.Reader
	left      int64
	truncated bool  // the source ended before the payload did
	err       error // the source's own read error
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n, err := p.r.Read(b)
	p.left -= int64(n)
	switch {
	case err == io.EOF && p.left > 0:
		p.truncated = true
		return n, io.ErrUnexpectedEOF
	case err == io.EOF:
		return n, nil
	case err != nil:
		p.err = err
	}
	return n, err
}
