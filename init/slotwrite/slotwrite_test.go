package slotwrite

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
)

// The real store is what the update service passes.
var _ State = (*slotstate.Store)(nil)

// recorder is a State that records its calls and what the target
// partition held at each.
type recorder struct {
	device string
	events []string
	held   [][]byte // the device's contents at each call
	failOn string   // "invalidate" or "trial": that call fails
}

func (r *recorder) call(name string, s slotstate.Slot) (slotstate.State, error) {
	r.events = append(r.events, name+" "+string(s))
	b, err := os.ReadFile(r.device)
	if err != nil {
		return slotstate.State{}, err
	}
	r.held = append(r.held, b)
	if r.failOn == name {
		return slotstate.State{}, fmt.Errorf("%s: the boot disk refused the write", name)
	}
	return slotstate.State{}, nil
}

func (r *recorder) Invalidate(s slotstate.Slot) (slotstate.State, error) {
	return r.call("invalidate", s)
}
func (r *recorder) Trial(s slotstate.Slot) (slotstate.State, error) { return r.call("trial", s) }

const partSize = 4 << 20

// slots makes a running and a target partition file, each filled with a
// pattern of its own, and returns options writing to the target.
func slots(t *testing.T) (Options, *recorder) {
	t.Helper()
	dir := t.TempDir()
	running, target := filepath.Join(dir, "slot-a"), filepath.Join(dir, "slot-b")
	for p, fill := range map[string]byte{running: 0xAA, target: 0xEE} {
		if err := os.WriteFile(p, bytes.Repeat([]byte{fill}, partSize), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{device: target}
	return Options{State: rec, Running: slotstate.A, Target: slotstate.B, RunningDevice: running, TargetDevice: target}, rec
}

func randomImage(n int, seed uint64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	mrand.NewChaCha8(key).Read(b)
	return b
}

func imageOf(b []byte) Image {
	sum := sha256.Sum256(b)
	return Image{R: bytes.NewReader(b), Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
}

func content(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWrite(t *testing.T) {
	o, rec := slots(t)
	img := randomImage(3<<20+777, 1)
	var progress []int64
	o.Progress = func(done, total int64) { progress = append(progress, done) }
	if err := Write(context.Background(), o, imageOf(img)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if want := []string{"invalidate b", "trial b"}; !slices.Equal(rec.events, want) {
		t.Fatalf("state calls %q, want %q", rec.events, want)
	}
	if !bytes.Equal(rec.held[0], bytes.Repeat([]byte{0xEE}, partSize)) {
		t.Error("the target was written before it was invalidated")
	}
	got := content(t, o.TargetDevice)
	if !bytes.Equal(got[:len(img)], img) || !bytes.Equal(rec.held[1], got) {
		t.Error("the target does not hold the image, or did not when it was put on trial")
	}
	if !bytes.Equal(got[len(img):], bytes.Repeat([]byte{0xEE}, partSize-len(img))) {
		t.Error("bytes past the image were changed")
	}
	if !bytes.Equal(content(t, o.RunningDevice), bytes.Repeat([]byte{0xAA}, partSize)) {
		t.Error("the running slot changed")
	}
	if len(progress) == 0 || progress[len(progress)-1] != int64(len(img)) {
		t.Errorf("progress %v, want it to end at %d", progress, len(img))
	}
}

// TestWriteRefused: each failure names its reason; before the target is
// invalidated nothing is written, after it the target is never put on
// trial, and the running slot is never touched.
func TestWriteRefused(t *testing.T) {
	img := randomImage(1<<20, 2)
	tests := []struct {
		name       string
		change     func(o *Options, img *Image, rec *recorder)
		hook       func(*os.File) error
		want       error
		wantEvents []string
	}{
		{"image larger than the partition", func(o *Options, i *Image, _ *recorder) {
			*i = imageOf(randomImage(partSize+1, 3))
		}, nil, ErrTooLarge, nil},
		{"target is the running slot", func(o *Options, _ *Image, _ *recorder) { o.Target = o.Running }, nil, ErrRunningSlot, nil},
		{"target device is the running one", func(o *Options, _ *Image, _ *recorder) { o.TargetDevice = o.RunningDevice }, nil, ErrRunningSlot, nil},
		{"target device links to the running one", func(o *Options, _ *Image, rec *recorder) {
			link := filepath.Join(filepath.Dir(o.RunningDevice), "by-label-slot-b")
			if err := os.Symlink(o.RunningDevice, link); err != nil {
				panic(err)
			}
			o.TargetDevice, rec.device = link, o.RunningDevice
		}, nil, ErrRunningSlot, nil},
		{"invalidate fails", func(_ *Options, _ *Image, rec *recorder) { rec.failOn = "invalidate" }, nil, nil, []string{"invalidate b"}},
		{"image shorter than declared", func(_ *Options, i *Image, _ *recorder) { i.Size++ }, nil, nil, []string{"invalidate b"}},
		{"image longer than declared", func(_ *Options, i *Image, _ *recorder) { i.Size-- }, nil, ErrTooLarge, []string{"invalidate b"}},
		{"image is not what its sha256 says", func(_ *Options, i *Image, _ *recorder) { i.SHA256 = hex.EncodeToString(make([]byte, 32)) },
			nil, ErrReadBack, []string{"invalidate b"}},
		{"partition changed under the write", nil, func(f *os.File) error {
			_, err := f.WriteAt([]byte{0x01}, 1<<19)
			return err
		}, ErrReadBack, []string{"invalidate b"}},
		{"source fails", func(_ *Options, i *Image, _ *recorder) {
			i.R = io.MultiReader(io.LimitReader(i.R, 1000), iotestErr{})
		}, nil, errLink, []string{"invalidate b"}},
		{"trial fails", func(_ *Options, _ *Image, rec *recorder) { rec.failOn = "trial" }, nil, nil, []string{"invalidate b", "trial b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, rec := slots(t)
			im := imageOf(img)
			if tt.change != nil {
				tt.change(&o, &im, rec)
			}
			err := write(context.Background(), o, im, tt.hook)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("write = %v, want %v", err, tt.want)
			}
			t.Log(err)
			if !slices.Equal(rec.events, tt.wantEvents) {
				t.Errorf("state calls %q, want %q", rec.events, tt.wantEvents)
			}
			if len(tt.wantEvents) == 0 && !bytes.Equal(content(t, rec.device), bytes.Repeat([]byte{0xEE}, partSize)) &&
				rec.device != o.RunningDevice {
				t.Error("the target was written although the write was refused")
			}
			if !bytes.Equal(content(t, o.RunningDevice), bytes.Repeat([]byte{0xAA}, partSize)) {
				t.Error("the running slot changed")
			}
		})
	}
}

var errLink = errors.New("connection reset by peer")

type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errLink }

func TestWriteStopsWhenCancelled(t *testing.T) {
	o, rec := slots(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Write(ctx, o, imageOf(randomImage(1<<20, 4)))
	if !errors.Is(err, context.Canceled) || !slices.Equal(rec.events, []string{"invalidate b"}) {
		t.Fatalf("Write = %v with calls %q, want %v after invalidate only", err, rec.events, context.Canceled)
	}
}

// TestWriteBundle writes a bundle's image; a bundle whose payload was
// altered leaves the target invalid, not on trial.
func TestWriteBundle(t *testing.T) {
	key, err := bundle.GenerateKey(bytes.NewReader(make([]byte, ed25519.SeedSize)))
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(1<<20, 5)
	var b bytes.Buffer
	m, err := bundle.Write(&b, bytes.NewReader(img), bundle.Params{Board: "qemu-arm64", Version: "v2", Build: 2}, key, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	policy := bundle.Policy{Board: "qemu-arm64", Build: 1, Keys: bundle.NewKeyRing(key.Public())}
	corrupt := bytes.Clone(b.Bytes())
	corrupt[len(corrupt)-int(m.PayloadSize)/2] ^= 0x10
	for _, tt := range []struct {
		name       string
		data       []byte
		want       error
		wantEvents []string
	}{
		{"good", b.Bytes(), nil, []string{"invalidate b", "trial b"}},
		{"altered payload", corrupt, bundle.ErrCorrupt, []string{"invalidate b"}},
		{"truncated", b.Bytes()[:b.Len()-100], bundle.ErrTruncated, []string{"invalidate b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o, rec := slots(t)
			r, err := bundle.Open(bytes.NewReader(tt.data), policy)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			err = Write(context.Background(), o, FromBundle(r))
			if !errors.Is(err, tt.want) || !slices.Equal(rec.events, tt.wantEvents) {
				t.Fatalf("Write = %v with calls %q, want %v with %q", err, rec.events, tt.want, tt.wantEvents)
			}
			if tt.want == nil && !bytes.Equal(content(t, o.TargetDevice)[:len(img)], img) {
				t.Fatal("the target does not hold the image")
			}
		})
	}
}

// TestWriteDoesNotHoldTheImage writes a 64 MiB image and checks the
// writer allocated a small fraction of it.
func TestWriteDoesNotHoldTheImage(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 20
	target := filepath.Join(dir, "slot-b")
	running := filepath.Join(dir, "slot-a")
	for _, p := range []string{target, running} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, size); err != nil {
			t.Fatal(err)
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(zeros{}, size)); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{device: os.DevNull}
	o := Options{State: rec, Running: slotstate.A, Target: slotstate.B, RunningDevice: running, TargetDevice: target}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	err := Write(context.Background(), o, Image{R: io.LimitReader(zeros{}, size), Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Fatalf("writing %d MiB allocated %d MiB", size>>20, grew>>20)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestTwoNodesOfOneDeviceRefused: two device nodes for one partition are
// different files naming the same device; the target is refused before
// anything is opened.
func TestTwoNodesOfOneDeviceRefused(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "mmcblk0p2"), filepath.Join(dir, "slot-b")
	dev := int(unix.Mkdev(1, 3)) // /dev/null's numbers: writing it is harmless
	for _, p := range []string{a, b} {
		if err := unix.Mknod(p, unix.S_IFCHR|0o600, dev); err != nil {
			t.Skipf("mknod needs root: %v", err)
		}
	}
	rec := &recorder{device: os.DevNull}
	o := Options{State: rec, Running: slotstate.A, Target: slotstate.B, RunningDevice: a, TargetDevice: b}
	if err := Write(context.Background(), o, imageOf([]byte("x"))); !errors.Is(err, ErrRunningSlot) || len(rec.events) != 0 {
		t.Fatalf("Write = %v with calls %q, want %v and no calls", err, rec.events, ErrRunningSlot)
	}
}
