// Command verityprobe is a service of the root benchmark: once init has
// read every block of the root (the dm-verity device's read counter has
// passed its size and stopped), it reads the root's filesystem blocks three times
// each way, straight from the loop device and through dm-verity, past the
// page cache, and prints the median rates; then how long reading the
// image's filesystem whole and hashing it with SHA-256 takes (what
// checking a sha256 of the image before mounting it would add to a boot):
//
//	verityprobe: loop0 38.7 MiB/s, dm-0 21.3 MiB/s (8 MiB each)
//	verityprobe: sha256 of the filesystem (8 MiB) in 0.412s
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	size, err := sectors("/sys/block/dm-0/size")
	if err != nil {
		fail(err)
	}
	if err := waitRead("/sys/block/dm-0/stat", size, 5*time.Minute); err != nil {
		fail(err)
	}
	loops, _ := filepath.Glob("/sys/block/dm-0/slaves/loop*")
	if len(loops) != 1 {
		fail(fmt.Errorf("dm-0 is not on one loop device: %v", loops))
	}
	loop := filepath.Base(loops[0])
	var raw, verified []float64
	for i := 0; i < 3; i++ {
		raw = append(raw, rate("/dev/"+loop, size*512))
		verified = append(verified, rate("/dev/dm-0", size*512))
	}
	fmt.Printf("verityprobe: %s %.1f MiB/s, dm-0 %.1f MiB/s (%d MiB each)\n", loop, median(raw), median(verified), size*512>>20)
	var sums []float64
	for i := 0; i < 3; i++ {
		h := sha256.New()
		sums = append(sums, read("/dev/"+loop, size*512, h.Write).Seconds())
	}
	fmt.Printf("verityprobe: sha256 of the filesystem (%d MiB) in %.3fs\n", size*512>>20, median(sums))
	time.Sleep(time.Hour)
}

func fail(err error) {
	fmt.Println("verityprobe:", err)
	os.Exit(1)
}

func sectors(p string) (int64, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// waitRead waits until the device's read counter (sectors) has reached
// n and then not moved for three seconds.
func waitRead(stat string, n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last int64
	still := 0
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(stat)
		if err != nil {
			return err
		}
		var read int64
		if f := strings.Fields(string(b)); len(f) > 2 {
			read, _ = strconv.ParseInt(f[2], 10, 64)
		}
		if read >= n && read == last {
			if still++; still == 3 {
				return nil
			}
		} else {
			still = 0
		}
		last = read
		time.Sleep(time.Second)
	}
	return fmt.Errorf("the root was not read whole within %v", timeout)
}

// rate reads the first n bytes of dev with O_DIRECT and returns MiB/s.
func rate(dev string, n int64) float64 {
	return float64(n) / (1 << 20) / read(dev, n, nil).Seconds()
}

// read reads the first n bytes of dev with O_DIRECT, passing them to use
// if it is not nil, and returns how long that took.
func read(dev string, n int64, use func([]byte) (int, error)) time.Duration {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		fail(err)
	}
	defer unix.Close(fd)
	buf, err := unix.Mmap(-1, 0, 128<<10, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		fail(err)
	}
	defer unix.Munmap(buf)
	start := time.Now()
	for off := int64(0); off < n; {
		got, err := unix.Pread(fd, buf[:min(int64(len(buf)), n-off)], off)
		if err != nil || got == 0 {
			fail(fmt.Errorf("reading %s at %d: %v", dev, off, err))
		}
		if use != nil {
			use(buf[:got])
		}
		off += int64(got)
	}
	return time.Since(start)
}

func median(xs []float64) float64 {
	sort.Float64s(xs)
	return xs[len(xs)/2]
}
