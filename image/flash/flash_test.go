package flash

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlashFile: each image format to a new file; a raw one to a larger
// file of garbage (every byte of the image written, zeros too, the rest left as
// it was) and to a smaller one (grown); the result is the image and the
// zeros a fresh file already reads back are skipped.
func TestFlashFile(t *testing.T) {
	img := testImage(4<<20+1000, 1)
	sum := sha256.Sum256(img)
	images := t.TempDir()
	for _, format := range []string{"raw", "gzip", "xz", "zstd"} {
		image := writeImage(t, images, img, format)
		for _, tt := range []struct {
			name     string
			existing []byte // nil: no file yet
			skipped  bool
		}{
			{"new", nil, true},
			{"larger garbage", bytes.Repeat([]byte{0xa5}, 7<<20), false},
			{"smaller garbage", bytes.Repeat([]byte{0x5a}, 1<<20+3), true},
		} {
			if format != "raw" && tt.existing != nil {
				continue // the target's handling does not depend on the format
			}
			t.Run(format+"/"+tt.name, func(t *testing.T) {
				dev := filepath.Join(t.TempDir(), "card.img")
				if tt.existing != nil {
					if err := os.WriteFile(dev, tt.existing, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				var phases []Phase
				res, err := Flash(context.Background(), Options{Image: image, Device: dev, Progress: func(p Phase, done, total int64) {
					if len(phases) == 0 || phases[len(phases)-1] != p {
						phases = append(phases, p)
					}
				}})
				if err != nil {
					t.Fatal(err)
				}
				got := content(t, dev)
				if !bytes.Equal(got[:len(img)], img) {
					t.Fatal("the file does not hold the image")
				}
				if len(tt.existing) > len(img) && !bytes.Equal(got[len(img):], tt.existing[len(img):]) {
					t.Error("the bytes past the image changed")
				}
				if res.SHA256 != hex.EncodeToString(sum[:]) || res.Size != int64(len(img)) {
					t.Errorf("result %+v, want size %d sha256 %x", res, len(img), sum)
				}
				if (res.Skipped > 0) != tt.skipped || res.Written+res.Skipped != int64(len(img)) {
					t.Errorf("wrote %d, skipped %d; want skipping %v", res.Written, res.Skipped, tt.skipped)
				}
				want := []Phase{PhaseWrite, PhaseVerify}
				if format != "raw" {
					want = append([]Phase{PhaseMeasure}, want...)
				}
				if !equalPhases(phases, want) {
					t.Errorf("progress phases %v, want %v", phases, want)
				}
			})
		}
	}
}

func equalPhases(a, b []Phase) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestFlashCorruptReadBack: a byte changed on the target between the
// sync and the read-back, in written data or in a skipped zero run, is
// detected and reported as a read-back mismatch.
func TestFlashCorruptReadBack(t *testing.T) {
	img := testImage(4<<20, 2)
	zeroAt := bytes.Index(img, make([]byte, 1<<20))
	if zeroAt < 0 {
		t.Fatal("the test image has no zero run")
	}
	dataAt := bytes.IndexFunc(img, func(r rune) bool { return r != 0 })
	for name, off := range map[string]int{"written data": dataAt, "skipped zeros": zeroAt} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			o := Options{Image: writeImage(t, dir, img, "raw"), Device: filepath.Join(dir, "card.img")}
			o.beforeReadBack = func(path string) error {
				f, err := os.OpenFile(path, os.O_WRONLY, 0)
				if err != nil {
					return err
				}
				defer f.Close()
				if _, err := f.WriteAt([]byte{img[off] ^ 0xff}, int64(off)); err != nil {
					return err
				}
				return f.Sync()
			}
			flashErr(t, o, ErrReadBack, "reads back sha256")
		})
	}
}

// TestFlashPermission: a target that cannot be written (an immutable
// file, which even root cannot open for writing; a read-only file for
// anyone else) is refused with the permission problem named.
func TestFlashPermission(t *testing.T) {
	dir := t.TempDir()
	image := writeImage(t, dir, testImage(1<<20, 3), "raw")
	dev := filepath.Join(dir, "card.img")
	if err := os.WriteFile(dev, []byte("keep"), 0o444); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", dev).CombinedOutput(); err != nil {
			t.Skipf("chattr +i (root writes any read-only file): %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dev).Run() })
	}
	flashErr(t, Options{Image: image, Device: dev}, ErrPermission, dev+" cannot be opened for writing")
	if got := string(content(t, dev)); got != "keep" {
		t.Errorf("the target changed: %q", got)
	}
}

// TestFlashBadInput: what cannot be flashed is refused, naming the
// problem, with the target left as it was.
func TestFlashBadInput(t *testing.T) {
	dir := t.TempDir()
	img := testImage(2<<20, 4)
	gz := content(t, writeImage(t, dir, img, "gzip"))
	truncated := filepath.Join(dir, "truncated.img.gz")
	if err := os.WriteFile(truncated, gz[:len(gz)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.img")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	raw := writeImage(t, dir, img, "raw")
	for _, tt := range []struct {
		name, image, device, want string
	}{
		{"truncated gzip", truncated, "card.img", "decompressing (gzip)"},
		{"empty image", empty, "card.img", "is empty"},
		{"missing image", filepath.Join(dir, "none.img"), "card.img", "none.img: no such file"},
		{"image itself", raw, raw, "is the image itself"},
		{"character device", raw, "/dev/null", "neither a block device nor a regular file"},
		{"mistyped device", raw, "/dev/sdzz9", "/dev/sdzz9: no such device"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dev := tt.device
			if !filepath.IsAbs(dev) {
				dev = filepath.Join(t.TempDir(), dev)
				if err := os.WriteFile(dev, []byte("keep"), 0o644); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if got := string(content(t, dev)); got != "keep" {
						t.Errorf("the target changed: %q", got)
					}
				}()
			}
			_, err := Flash(context.Background(), Options{Image: tt.image, Device: dev})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Flash: %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat("/dev/sdzz9"); err == nil {
		t.Error("a file was created for a mistyped device")
	}
}
