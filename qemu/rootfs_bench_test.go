package qemu

import (
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/containerd"
)

// BenchmarkRootVerity boots each board's image with containerd and
// reports what checking the root costs: the initramfs's mount of the root
// (loop, dm-verity, erofs, and reading the root's init whole), how much
// the boot read through dm-verity until every step ended (containerd
// healthy, link up), how fast the root reads straight from its loop
// device and through dm-verity (verityprobe, past the page cache, on the
// booted gateway), and from those the boot time dm-verity costs: the
// reads at boot at the checked rate less the same at the unchecked rate.
// sha256-image-s is the alternative: reading the filesystem whole and
// hashing it (Go's crypto/sha256) before mounting it. check-s is the
// check of every block after the boot, at idle priority.
func BenchmarkRootVerity(b *testing.B) {
	mounted := regexp.MustCompile(`edgegate: root: slot a \S+ \(erofs, \d+ bytes\) .* mounted read-only in (\S+)\r?\n`)
	atBoot := regexp.MustCompile(`edgegate: root: (\d+) KiB of /dev/dm-0 read and verified by dm-verity during the boot`)
	checked := regexp.MustCompile(`edgegate: root: every block of slot a verified: \d+ KiB in (\S+)\r?\n`)
	rates := regexp.MustCompile(`verityprobe: loop\d+ (\S+) MiB/s, dm-0 (\S+) MiB/s`)
	sha := regexp.MustCompile(`verityprobe: sha256 of the filesystem \(\d+ MiB\) in (\S+)\r?\n`)
	for _, board := range boards.All() {
		if board.Emulation == nil {
			continue
		}
		b.Run(board.Name, func(b *testing.B) {
			img := verityImage(b, board)
			var mountS, bootMiB, loopRate, dmRate, cost, checkS, shaS []float64
			for i := 0; i < b.N; i++ {
				disk := filepath.Join(b.TempDir(), "disk.img")
				must(b, CopyImage(img, disk))
				m := startBench(b, Config{Board: board, Image: disk, Path: Direct})
				mountS = append(mountS, seconds(b, expectWithin(b, m, mounted.String(), bootTimeout)[1]))
				read := number(b, expectWithin(b, m, atBoot.String(), 5*time.Minute)[1]) / 1024
				sub := expectWithin(b, m, rates.String(), 5*time.Minute)
				shaS = append(shaS, seconds(b, expectWithin(b, m, sha.String(), 5*time.Minute)[1]))
				check := checked.FindStringSubmatch(m.Console.String())
				m.Close()
				if check == nil {
					b.Fatal("no line of the check of every block before verityprobe's")
				}
				checkS = append(checkS, seconds(b, check[1]))
				raw, verified := number(b, sub[1]), number(b, sub[2])
				bootMiB = append(bootMiB, read)
				loopRate = append(loopRate, raw)
				dmRate = append(dmRate, verified)
				cost = append(cost, read/verified-read/raw)
			}
			b.ReportMetric(median(mountS), "root-mount-s")
			b.ReportMetric(median(bootMiB), "read-at-boot-MiB")
			b.ReportMetric(median(loopRate), "loop-MiBps")
			b.ReportMetric(median(dmRate), "verity-MiBps")
			b.ReportMetric(median(cost), "verity-boot-cost-s")
			b.ReportMetric(median(checkS), "check-s")
			b.ReportMetric(median(shaS), "sha256-image-s")
			b.ReportMetric(0, "ns/op")
		})
	}
}

var verityImages = map[string]string{}

// verityImage returns b's image with containerd and verityprobe, built
// once per test binary.
func verityImage(t testing.TB, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if p, ok := verityImages[b.Name]; ok {
		return p
	}
	probe := config.Service{Name: "verityprobe", Path: "/usr/bin/verityprobe", DependsOn: []string{"containerd"}, Restart: config.RestartNever}
	raw, err := yaml.Marshal(config.Config{
		Network:  config.Network{Interface: b.Net, Mode: config.ModeDHCP},
		NTP:      config.NTP{Servers: []string{}},
		Services: []config.Service{containerd.Service(), probe},
	})
	must(t, err)
	out := filepath.Join(images.dir, b.Name+"-verity.img")
	_, err = image.Build(context.Background(), image.Options{
		Board: b, Version: "bench", Output: out, Cache: testCache(t), Config: raw, Containerd: true,
		Extra: []image.ExtraFile{{Path: "/usr/bin/verityprobe", Data: buildTestdata(t, b, "verityprobe"), Mode: 0o755}},
	})
	if err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	verityImages[b.Name] = out
	return out
}

// slotGzipSize is the gzip -9 size of slot A's partition of img: the
// kernel, the initramfs and the root image as an update carries a slot.
func slotGzipSize(b *testing.B, img string) int64 {
	b.Helper()
	cw := &counter{}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
	must(b, err)
	withSlot(b, img, func(slot io.Reader) {
		_, err = io.Copy(zw, slot)
	})
	must(b, err)
	must(b, zw.Close())
	return cw.n
}

// slotXZSize is the xz -9 size (xz-utils) of slot A's partition of img:
// what an update bundle compressed with xz carries.
func slotXZSize(b *testing.B, img string) int64 {
	b.Helper()
	cw := &counter{}
	withSlot(b, img, func(slot io.Reader) {
		cmd := exec.Command("xz", "-9", "-c")
		cmd.Stdin, cmd.Stdout = slot, cw
		must(b, cmd.Run())
	})
	return cw.n
}

// withSlot calls f with a reader of slot A's partition of img.
func withSlot(b *testing.B, img string, f func(io.Reader)) {
	b.Helper()
	fh, err := os.Open(img)
	must(b, err)
	defer fh.Close()
	start, size := partitionExtent(b, fh, 2)
	f(io.NewSectionReader(fh, start, size))
}

// slotFilesSize is the size of the files slot A holds.
func slotFilesSize(b *testing.B, img string) int64 {
	b.Helper()
	names, err := disk.ReadDir(img, 2)
	must(b, err)
	var n int64
	for _, name := range names {
		data, err := disk.ReadFile(img, 2, name)
		must(b, err)
		n += int64(len(data))
	}
	return n
}

// reportSlot reports the slot's size: its files, and the partition (the
// unit an update writes) compressed with gzip -9 and with xz -9.
func reportSlot(b *testing.B, res image.Result) {
	b.ReportMetric(mib(slotFilesSize(b, res.Output)), "slot-MiB")
	b.ReportMetric(mib(slotGzipSize(b, res.Output)), "slot-gzip9-MiB")
	b.ReportMetric(mib(slotXZSize(b, res.Output)), "slot-xz9-MiB")
	b.ReportMetric(mib(res.RootSize), "root-MiB")
}

func seconds(b *testing.B, s string) float64 {
	b.Helper()
	d, err := time.ParseDuration(s)
	must(b, err)
	return d.Seconds()
}

func number(b *testing.B, s string) float64 {
	b.Helper()
	f, err := strconv.ParseFloat(s, 64)
	must(b, err)
	return f
}
