package qemu

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/initramfs"
)

// The boot benchmarks time QEMU start → a console line. Under TCG on a
// shared host single boots vary by seconds, so every configuration is
// compared with its floor measured in the same run: the same kernel
// booting a trivial init that prints one line and powers off.

// floorInit is the trivial init of the floor measurement.
const floorInit = `package main

import (
	"fmt"
	"syscall"
)

func main() {
	fmt.Println("floor: init running")
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}
`

// floorFiles builds the floor's initramfs for b and returns it with b's
// kernel.
func floorFiles(b *testing.B, board boards.Board) (kernel, initrd string) {
	b.Helper()
	dir := b.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(floorInit), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+board.Arch.GOARCH(), "GOARM="+board.Arch.GOARM(), "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building floor init: %v: %s", err, out)
	}
	arc := initramfs.New()
	if err := arc.CopyFile("init", bin); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := arc.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	initrd = filepath.Join(dir, "initrd")
	if err := os.WriteFile(initrd, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	root, err := testCache(b).Unpacked(context.Background(), board.Kernel)
	if err != nil {
		b.Fatal(err)
	}
	return filepath.Join(root, board.KernelPath), initrd
}

// timeBoots boots b.N times and reports the median, min and max seconds
// from QEMU start to the line matching until.
func timeBoots(b *testing.B, until string, boot func() *Machine) {
	re := regexp.MustCompile(until)
	var secs []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := boot()
		if _, err := m.Console.Expect(re, bootTimeout); err != nil {
			m.Close()
			b.Fatal(err)
		}
		secs = append(secs, time.Since(m.Started).Seconds())
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
	sort.Float64s(secs)
	b.ReportMetric(secs[len(secs)/2], "median-s")
	b.ReportMetric(secs[0], "min-s")
	b.ReportMetric(secs[len(secs)-1], "max-s")
	b.ReportMetric(0, "ns/op") // wall time per op repeats median-s; keep the table lean
}

// BenchmarkBoot: QEMU start → ready line on both boot paths, next to the
// floor, for every emulated board.
func BenchmarkBoot(b *testing.B) {
	for _, board := range boards.All() {
		if board.Emulation == nil {
			continue
		}
		b.Run(board.Name+"/floor", func(b *testing.B) {
			kernel, initrd := floorFiles(b, board)
			timeBoots(b, `floor: init running`, func() *Machine {
				return startBench(b, Config{Board: board, Path: Kernel, KernelFile: kernel, InitrdFile: initrd})
			})
		})
		for _, path := range []BootPath{Direct, UBoot} {
			b.Run(board.Name+"/"+path.String(), func(b *testing.B) {
				timeBoots(b, `edgegate: ready `, func() *Machine {
					b.StopTimer()
					disk := freshDisk(b, board)
					b.StartTimer()
					cfg := Config{Board: board, Image: disk, Path: path}
					if path == UBoot {
						fw, err := Firmware(context.Background(), testCache(b), board)
						if err != nil {
							b.Fatal(err)
						}
						cfg.Firmware = fw
					}
					return startBench(b, cfg)
				})
			})
		}
	}
}

func startBench(b *testing.B, cfg Config) *Machine {
	m, err := Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkImage builds each board's image (packages cached) and reports
// its sizes: the partitioned image, the bytes that are not zero (what
// flashing and a compressed download carry), its gzip size, and the parts.
func BenchmarkImage(b *testing.B) {
	for _, board := range boards.All() {
		b.Run(board.Name, func(b *testing.B) {
			res := benchBuild(b, image.Options{Board: board})
			b.ReportMetric(mib(res.KernelSize), "kernel-MiB")
			b.ReportMetric(mib(res.InitSize), "init-MiB")
			b.ReportMetric(float64(res.Modules), "modules")
		})
	}
}

// benchBuild builds the image o describes b.N times, stops the timer and
// reports the sizes every image benchmark shares: partitioned, non-zero,
// gzip and initramfs.
func benchBuild(b *testing.B, o image.Options) image.Result {
	o.Version, o.Cache = "bench", testCache(b)
	var res image.Result
	for i := 0; i < b.N; i++ {
		o.Output = filepath.Join(b.TempDir(), "img")
		var err error
		if res, err = image.Build(context.Background(), o); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	data, gz := dataAndGzipSize(b, res.Output)
	b.ReportMetric(mib(res.ImageSize), "image-MiB")
	b.ReportMetric(mib(data), "nonzero-MiB")
	b.ReportMetric(mib(gz), "gzip-MiB")
	b.ReportMetric(mib(res.InitramfsSize), "initramfs-MiB")
	reportSlot(b, res)
	return res
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func dataAndGzipSize(b *testing.B, p string) (nonzero, gz int64) {
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	cw := &counter{}
	zw, _ := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	buf := make([]byte, 64<<10)
	for {
		n, err := io.ReadFull(f, buf)
		if n > 0 {
			if len(bytes.Trim(buf[:n], "\x00")) > 0 {
				nonzero += int64(n)
			}
			zw.Write(buf[:n])
		}
		if err != nil {
			break
		}
	}
	zw.Close()
	return nonzero, cw.n
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
