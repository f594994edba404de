package qemu

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// CopyImage copies an image file, keeping runs of zeros as holes so a
// mostly empty 400 MiB image costs a few MiB of disk per copy. Tests boot
// copies so every test starts from the image as built.
func CopyImage(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 64<<10)
	var off int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 {
			chunk := buf[:n]
			if len(bytes.Trim(chunk, "\x00")) != 0 {
				if _, err := out.WriteAt(chunk, off); err != nil {
					out.Close()
					return fmt.Errorf("copying %s: %w", src, err)
				}
			}
			off += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			out.Close()
			return fmt.Errorf("copying %s: %w", src, err)
		}
	}
	if err := out.Truncate(off); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
