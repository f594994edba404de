package slotwrite

import (
	"bytes"
	"context"
	"crypto/ed25519"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// benchSlot is a 32 MiB stand-in slot image: two thirds in 64 KiB runs
// of random bytes (the LZ4-compressed root image and the kernel do not
// compress further), the rest zeros (free FAT clusters).
func benchSlot() []byte {
	const size = 32 << 20
	r := mrand.New(mrand.NewPCG(1, 2))
	img := make([]byte, size)
	fill := mrand.NewChaCha8([32]byte{1})
	for off := 0; off < size; off += 64 << 10 {
		if r.IntN(3) != 0 {
			fill.Read(img[off : off+64<<10])
		}
	}
	return img
}

type nopState struct{}

func (nopState) Invalidate(slotstate.Slot) (slotstate.State, error) { return slotstate.State{}, nil }
func (nopState) Trial(slotstate.Slot) (slotstate.State, error)      { return slotstate.State{}, nil }

// BenchmarkBundleInstall is what a gateway does with an update once it
// has the bytes: verify the signature, decompress, write the slot
// partition (a file here), fsync, read back and hash. MB/s counts slot
// image bytes; the network is not part of it.
func BenchmarkBundleInstall(b *testing.B) {
	key, err := bundle.GenerateKey(bytes.NewReader(make([]byte, ed25519.SeedSize)))
	if err != nil {
		b.Fatal(err)
	}
	img := benchSlot()
	var bb bytes.Buffer
	m, err := bundle.Write(&bb, bytes.NewReader(img), bundle.Params{Board: "qemu-arm64", Version: "v2", Build: 2}, key, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	o := Options{State: nopState{}, Running: slotstate.A, Target: slotstate.B,
		RunningDevice: filepath.Join(dir, "slot-a"), TargetDevice: filepath.Join(dir, "slot-b")}
	for _, p := range []string{o.RunningDevice, o.TargetDevice} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.Truncate(p, int64(len(img))); err != nil {
			b.Fatal(err)
		}
	}
	policy := bundle.Policy{Board: "qemu-arm64", Build: 1, Keys: bundle.NewKeyRing(key.Public())}
	b.SetBytes(int64(len(img)))
	b.ResetTimer()
	for range b.N {
		r, err := bundle.Open(bytes.NewReader(bb.Bytes()), policy)
		if err != nil {
			b.Fatal(err)
		}
		if err := Write(context.Background(), o, FromBundle(r)); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
	b.ReportMetric(float64(m.PayloadSize)/float64(m.ImageSize), "payload/image")
}
