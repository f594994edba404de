package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// chunk is the transfer size: a multiple of every SD card's erase block
// (4 MiB is the largest common one), and what dd bs=4M uses.
const chunk = 4 << 20

// write streams the image to the target a chunk at a time. A reader
// goroutine decompresses and hashes the next chunks while the current
// one is written: with O_DIRECT each write waits for the device, and
// the reading and hashing would otherwise add to that wait.
//
// A chunk of zeros is written only if the target does not already read
// back zeros there: reading is cheaper than writing on flash, and a
// fresh or sparse file reads zeros without holding any. What was
// skipped is still covered by the read-back.
func (o Options) write(ctx context.Context, src *source, t *target, res *Result) error {
	r, err := src.open(nil)
	if err != nil {
		return err
	}
	defer r.Close()
	if !t.device {
		if err := growFile(t, src.size); err != nil {
			return err
		}
	}
	progress := o.progress(PhaseWrite)
	if progress != nil {
		progress(0, src.size) // the phase starts: its rate counts from here
	}
	ctx, cancel := context.WithCancel(ctx)
	chunks, free, result := readChunks(ctx, src, r)
	defer func() {
		cancel()
		for range chunks { // let the reader finish before r is closed
		}
	}()
	cmp := alignedBuffer(chunk)
	for c := range chunks {
		if c.err != nil {
			return c.err
		}
		if err := writeChunk(t, c.buf[:c.n], cmp[:c.n], c.off, res); err != nil {
			return err
		}
		free <- c.buf
		if progress != nil {
			progress(c.off+int64(c.n), src.size)
		}
	}
	sum := <-result
	if sum.err != nil {
		return sum.err
	}
	if src.sha256 != "" && sum.sha256 != src.sha256 {
		return fmt.Errorf("image %s changed while it was written: sha256 %s, first read %s", src.path, sum.sha256, src.sha256)
	}
	res.SHA256 = sum.sha256
	return t.sync()
}

// chunkBuffers is how many chunks are in flight: one being written, one
// read ahead, one being read.
const chunkBuffers = 3

type readChunk struct {
	buf []byte
	n   int
	off int64
	err error
}

type readSum struct {
	sha256 string
	err    error
}

// readChunks reads the image in chunks into buffers taken from free,
// hashing them, until the image's size; the hash (or the image going on
// past its size) comes on the result channel once chunks is closed.
func readChunks(ctx context.Context, src *source, r io.Reader) (<-chan readChunk, chan<- []byte, <-chan readSum) {
	chunks := make(chan readChunk, chunkBuffers)
	free := make(chan []byte, chunkBuffers)
	result := make(chan readSum, 1)
	for range chunkBuffers {
		free <- alignedBuffer(chunk)
	}
	go func() {
		defer close(chunks)
		h := sha256.New()
		for off := int64(0); off < src.size; {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				chunks <- readChunk{err: fmt.Errorf("stopped after %d of %d bytes: %w", off, src.size, ctx.Err())}
				return
			}
			n := int(min(chunk, src.size-off))
			if _, err := io.ReadFull(r, buf[:n]); err != nil {
				chunks <- readChunk{err: fmt.Errorf("image %s: reading at %d of %d bytes: %w", src.path, off, src.size, err)}
				return
			}
			h.Write(buf[:n])
			chunks <- readChunk{buf: buf, n: n, off: off}
			off += int64(n)
		}
		var one [1]byte
		if extra, _ := r.Read(one[:]); extra > 0 {
			result <- readSum{err: fmt.Errorf("image %s changed while it was written: it goes on past %d bytes", src.path, src.size)}
			return
		}
		result <- readSum{sha256: hex.EncodeToString(h.Sum(nil))}
	}()
	return chunks, free, result
}

// zeroBlock is the granularity of zero skipping: a free file system
// cluster range is rarely chunk-aligned, and a 1 MiB block still keeps
// the writes large.
const zeroBlock = 1 << 20

// writeChunk writes b at off, but leaves out each run of zero blocks the
// target already reads back as zeros (read into cmp). Neighbouring
// blocks to write go out in one write.
func writeChunk(t *target, b, cmp []byte, off int64, res *Result) error {
	for start := 0; start < len(b); {
		zero := isZero(b[start:min(len(b), start+zeroBlock)])
		end := start
		for end < len(b) && isZero(b[end:min(len(b), end+zeroBlock)]) == zero {
			end = min(len(b), end+zeroBlock)
		}
		if zero {
			if err := t.readAt(cmp[start:end], off+int64(start)); err != nil {
				return err
			}
			if isZero(cmp[start:end]) {
				res.Skipped += int64(end - start)
				start = end
				continue
			}
		}
		if err := t.writeAt(b[start:end], off+int64(start)); err != nil {
			return err
		}
		res.Written += int64(end - start)
		start = end
	}
	return nil
}

var zeros = make([]byte, 64<<10)

func isZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// growFile extends a file target smaller than the image; the new part
// is a hole, which reads back zeros.
func growFile(t *target, size int64) error {
	st, err := t.plain.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", t.path, err)
	}
	if st.Size() >= size {
		return nil
	}
	if err := t.plain.Truncate(size); err != nil {
		return ioError("extending", t.path, size, err)
	}
	return nil
}

// verify reads the image's length back from the medium and compares its
// sha256 with the image's.
func (o Options) verify(ctx context.Context, t *target, res Result) error {
	if err := t.dropCache(res.Size); err != nil {
		return err
	}
	progress := o.progress(PhaseVerify)
	if progress != nil {
		progress(0, res.Size)
	}
	buf := alignedBuffer(chunk)
	h := sha256.New()
	for off := int64(0); off < res.Size; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("read-back stopped after %d of %d bytes: %w", off, res.Size, err)
		}
		n := int(min(chunk, res.Size-off))
		if err := t.readAt(buf[:n], off); err != nil {
			return err
		}
		h.Write(buf[:n])
		off += int64(n)
		if progress != nil {
			progress(off, res.Size)
		}
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != res.SHA256 {
		return fmt.Errorf("%w: %s reads back sha256 %s, the image's is %s: the device did not store what was written (a failing or fake-capacity card?)",
			ErrReadBack, o.Device, sum, res.SHA256)
	}
	return nil
}
