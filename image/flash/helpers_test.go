package flash

import (
	"bytes"
	"context"
	"errors"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// testImage is a disk image of n bytes like a real one: runs of random
// bytes (compressed file systems) between runs of zeros (free space),
// with a tail that is not a multiple of 4 KiB when n is not.
func testImage(n int, seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, 1))
	fill := mrand.NewChaCha8([32]byte{byte(seed)})
	img := make([]byte, n)
	for off := 0; off < n; off += 1 << 20 {
		if r.IntN(3) != 0 {
			fill.Read(img[off:min(n, off+1<<20)])
		}
	}
	return img
}

// writeImage stores img in dir compressed as format ("raw", "gzip",
// "xz", "zstd") and returns its path.
func writeImage(t testing.TB, dir string, img []byte, format string) string {
	t.Helper()
	var b bytes.Buffer
	switch format {
	case "raw":
		b.Write(img)
	case "gzip":
		w := gzip.NewWriter(&b)
		w.Write(img)
		w.Close()
	case "xz":
		// The xz tool when there is one: the Go encoder takes seconds
		// for a few MiB under -race.
		cmd := exec.Command("xz", "-0", "-c")
		cmd.Stdin, cmd.Stdout = bytes.NewReader(img), &b
		if cmd.Run() == nil {
			break
		}
		b.Reset()
		w, err := xz.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(img)
		w.Close()
	case "zstd":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(img)
		w.Close()
	}
	p := filepath.Join(dir, "gw.img."+format)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// loopDevice attaches a loop device to a new file of size bytes filled
// with fill, detached when the test ends. args go to losetup.
func loopDevice(t testing.TB, size int, fill byte, args ...string) (dev, backing string) {
	t.Helper()
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		t.Skip("no /dev/loop-control: loop devices unavailable here")
	}
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	backing = filepath.Join(t.TempDir(), "backing")
	if err := os.WriteFile(backing, bytes.Repeat([]byte{fill}, size), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", append(append([]string{"-f", "--show"}, args...), backing)...).CombinedOutput()
	if err != nil {
		t.Skipf("losetup: %v: %s", err, out)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev, backing
}

func content(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flashErr runs Flash and checks it fails with want.
func flashErr(t *testing.T, o Options, want error, mention string) {
	t.Helper()
	_, err := Flash(context.Background(), o)
	if !errors.Is(err, want) || !strings.Contains(err.Error(), mention) {
		t.Fatalf("Flash: %v, want %v mentioning %q", err, want, mention)
	}
	t.Logf("refused: %v", err)
}
