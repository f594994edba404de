package flash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// source is the image to flash: a raw disk image, or one compressed by
// gzip, xz or zstd, recognised by its first bytes rather than its name.
type source struct {
	path   string
	format string // "raw", "gzip", "xz" or "zstd"
	size   int64  // the disk image's size: known at once for raw, after measure otherwise
	sha256 string // set by measure; empty for raw until written
	fileSz int64  // the file's own size
}

// magics are the compression formats' leading bytes.
var magics = []struct {
	format string
	magic  []byte
}{
	{"gzip", []byte{0x1f, 0x8b}},
	{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

func openSource(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	defer f.Close()
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, fmt.Errorf("image %s: size: %w", path, err)
	}
	if size == 0 {
		return nil, fmt.Errorf("image %s is empty", path)
	}
	head := make([]byte, 8)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("image %s: %w", path, err)
	}
	s := &source{path: path, format: "raw", size: size, fileSz: size}
	for _, m := range magics {
		if bytes.HasPrefix(head[:n], m.magic) {
			s.format, s.size = m.format, -1
		}
	}
	return s, nil
}

// compressed reports whether the image's size and hash are only known
// once it was decompressed (measure).
func (s *source) compressed() bool { return s.format != "raw" }

// open returns a fresh stream of the disk image's bytes. count, when
// set, is told how many bytes of the file itself were read so far.
func (s *source) open(count func(int64)) (io.ReadCloser, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if s.format == "raw" {
		return f, nil
	}
	r := bufio.NewReaderSize(&countingReader{r: f, count: count}, 1<<20)
	var d io.Reader
	switch s.format {
	case "gzip":
		d, err = gzip.NewReader(r)
	case "xz":
		d, err = xz.NewReader(r)
	case "zstd":
		var z *zstd.Decoder
		if z, err = zstd.NewReader(r); err == nil {
			return &closers{Reader: z, close: func() error { z.Close(); return f.Close() }}, nil
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("image %s: not a valid %s stream: %w", s.path, s.format, err)
	}
	return &closers{Reader: d, close: f.Close}, nil
}

// measure decompresses the image once, before the target is touched, to
// learn its size (which the size check needs) and its sha256.
func (s *source) measure(ctx context.Context, progress func(done, total int64)) error {
	if progress != nil {
		progress(0, s.fileSz)
	}
	r, err := s.open(func(n int64) {
		if progress != nil {
			progress(n, s.fileSz)
		}
	})
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: r}, make([]byte, 1<<20))
	if err != nil {
		return fmt.Errorf("image %s: decompressing (%s): %w", s.path, s.format, err)
	}
	if n == 0 {
		return fmt.Errorf("image %s decompresses to nothing", s.path)
	}
	s.size, s.sha256 = n, hex.EncodeToString(h.Sum(nil))
	return nil
}

type countingReader struct {
	r     io.Reader
	n     int64
	count func(int64)
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if c.count != nil && n > 0 {
		c.count(c.n)
	}
	return n, err
}

type closers struct {
	io.Reader
	close func() error
}

func (c *closers) Close() error { return c.close() }

// ctxReader stops a long read once ctx is done (Ctrl-C).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
