package flash

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkFlash flashes a 64 MiB image (two thirds random bytes, a
// third zeros, like a built image) to a loop device that holds other
// bytes, so nothing can be skipped, and in the same run writes the same
// image with dd bs=4M conv=fsync, the usual way. MB/s and ns/op are the
// whole flash (checks, write, sync, read-back); write-MBps leaves out
// the read-back, which dd does not do. flash/dd and write/dd are the
// throughputs over dd's: above 1 is faster.
func BenchmarkFlash(b *testing.B) {
	const size = 64 << 20
	dev, _ := loopDevice(b, size, 0xa5)
	if _, err := exec.LookPath("dd"); err != nil {
		b.Skip("no dd to compare with")
	}
	img := testImage(size, 10)
	image := writeImage(b, b.TempDir(), img, "raw")
	garbage := bytes.Repeat([]byte{0xa5}, size)
	var flashT, writeT, ddT time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		overwrite(b, dev, garbage)
		b.StartTimer()
		start := time.Now()
		res, err := Flash(context.Background(), Options{Image: image, Device: dev})
		if err != nil {
			b.Fatal(err)
		}
		flashT += time.Since(start)
		writeT += res.WriteTime
		if res.Skipped != 0 {
			b.Fatalf("skipped %d bytes of a device holding other bytes", res.Skipped)
		}
		b.StopTimer()
		overwrite(b, dev, garbage)
		start = time.Now()
		if out, err := exec.Command("dd", "if="+image, "of="+dev, "bs=4M", "conv=fsync", "status=none").CombinedOutput(); err != nil {
			b.Fatalf("dd: %v: %s", err, out)
		}
		ddT += time.Since(start)
		b.StartTimer()
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(writeT), "write-MBps")
	b.ReportMetric(mbps(ddT), "dd-MBps")
	b.ReportMetric(ddT.Seconds()/flashT.Seconds(), "flash/dd")
	b.ReportMetric(ddT.Seconds()/writeT.Seconds(), "write/dd")
}

// overwrite fills the device with data, through the device, and drops
// its cached pages, so each timed write starts from the medium.
func overwrite(b *testing.B, dev string, data []byte) {
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("blockdev", "--flushbufs", filepath.Clean(dev)).CombinedOutput(); err != nil {
		b.Fatalf("blockdev --flushbufs: %v: %s", err, out)
	}
}
