package qemu

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/cpio"
	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/containerd"
	"github.com/edgegate/edgegate/init/rootfs"
)

// The root tests boot images whose userland is the slot's read-only root
// image: the initramfs mounts it through dm-verity and hands over to its
// init. rootprobe (testdata/rootprobe), a service after containerd,
// reports what the root is, from the gateway's side and from containerd's.

var rootImages = map[string]string{}

// unreadFile is a file of the root image nothing reads but the check of
// every block. Its data is random, so erofs stores it as it is and the
// test can find it in the image.
const unreadFile = "/usr/share/rootprobe/unread"

func unreadData() []byte {
	b := make([]byte, 64<<10)
	rand.New(rand.NewSource(12)).Read(b)
	return b
}

// rootImage returns b's image with containerd and rootprobe, built once.
func rootImage(t testing.TB, b boards.Board) string {
	t.Helper()
	images.Lock()
	defer images.Unlock()
	if p, ok := rootImages[b.Name]; ok {
		return p
	}
	probe := config.Service{Name: "rootprobe", Path: "/usr/bin/rootprobe", DependsOn: []string{"containerd"}, Restart: config.RestartNever}
	raw, err := yaml.Marshal(config.Config{
		Network:  config.Network{Interface: b.Net, Mode: config.ModeDHCP},
		NTP:      config.NTP{Servers: []string{}},
		Services: []config.Service{containerd.Service(), probe},
	})
	must(t, err)
	out := filepath.Join(images.dir, b.Name+"-root.img")
	_, err = image.Build(context.Background(), image.Options{
		Board: b, Version: "test", Output: out, Cache: testCache(t), Config: raw, Containerd: true,
		Extra: []image.ExtraFile{
			{Path: "/usr/bin/rootprobe", Data: buildTestdata(t, b, "rootprobe"), Mode: 0o755},
			{Path: unreadFile, Data: unreadData()},
		},
	})
	if err != nil {
		t.Fatalf("building %s: %v", b.Name, err)
	}
	rootImages[b.Name] = out
	return out
}

// TestReadOnlyRoot boots each board both ways: the initramfs loads its
// few modules and mounts the slot's root image read-only through
// dm-verity with the root hash it carries; init, containerd and the
// services run from that root, which refuses writes (EROFS) for them and
// in containerd's jail, where /etc is read-only too; the initramfs is
// gone; and every block of the image checks out against the root hash.
func TestReadOnlyRoot(t *testing.T) {
	for _, b := range emulated(t) {
		for _, path := range []BootPath{Direct, UBoot} {
			t.Run(b.Name+"/"+path.String(), func(t *testing.T) {
				img := rootImage(t, b)
				spec := rootSpec(t, img)
				disk := filepath.Join(t.TempDir(), "disk.img")
				must(t, CopyImage(img, disk))
				m := start(t, b, disk, path)
				expect(t, m, `edgegate: initramfs: modules: \d+ loaded, 0 failed`)
				expect(t, m, `edgegate: root: slot a root\.img \(erofs, `+fmt.Sprint(spec.Size)+` bytes\) on /dev/loop\d+ \(direct I/O\), dm-verity root hash `+spec.Verity.RootHash+`, mounted read-only`)
				expect(t, m, `edgegate: init version=test board=`+b.Name+` slot=a`)
				expect(t, m, `edgegate: ready version=test slot=a board=`+b.Name+`\r?\n`)
				expect(t, m, `rootprobe: / is erofs ro from /dev/dm-0`)
				for _, p := range []string{"/rootprobe", "/usr/bin/rootprobe", "/sbin/init"} {
					expect(t, m, `rootprobe: write `+regexp.QuoteMeta(p)+`: read-only file system \(EROFS\)`)
				}
				expect(t, m, `rootprobe: write /etc/rootprobe: written`)
				expect(t, m, `rootprobe: the initramfs is gone: stat /init: no such file or directory`)
				expect(t, m, `rootprobe: init pid 1 runs /sbin/init from the root's device`)
				expect(t, m, `rootprobe: rootprobe pid \d+ runs /usr/bin/rootprobe from the root's device`)
				expect(t, m, `rootprobe: containerd pid \d+ runs \S*/usr/bin/edgegate-containerd from the root's device`)
				expect(t, m, `rootprobe: containerd's view: write /rootprobe: read-only file system \(EROFS\)`)
				expect(t, m, `rootprobe: containerd's view: write /etc/rootprobe: read-only file system \(EROFS\)`)
				sub := expectWithin(t, m, `edgegate: root: every block of slot a verified: (\d+) KiB`, 3*time.Minute)
				if kib := spec.Verity.HashOffset >> 10; sub[1] != fmt.Sprint(kib) {
					t.Errorf("the check read %s KiB, the filesystem is %d KiB", sub[1], kib)
				}
				t.Logf("ready after %v", time.Since(m.Started).Round(time.Millisecond))
				powerdown(t, m)
			})
		}
	}
}

// TestCorruptRoot flips one byte of the root image in slot A's partition
// of the disk image and boots it: the gateway says which slot's root is
// corrupt and reboots (QEMU, started with -no-reboot, exits), and does
// not go on booting after that line. A byte in the filesystem's
// superblock is caught by the initramfs, before anything runs from the
// root. A byte of a file nothing reads is caught by the check of every
// block after the boot, and the gateway goes down the orderly way. A byte
// of the filesystem's last block is caught by whatever reads it first (in
// these images, mke2fs loading a library at the first boot).
func TestCorruptRoot(t *testing.T) {
	superblock := func(testing.TB, string, rootfs.Spec) int64 { return 1024 }
	lastBlock := func(_ testing.TB, _ string, spec rootfs.Spec) int64 { return spec.Verity.HashOffset - 100 }
	unread := func(t testing.TB, img string, _ rootfs.Spec) int64 {
		root, err := disk.ReadFile(img, 2, rootfs.ImageFile)
		must(t, err)
		at := bytes.Index(root, unreadData()[:4096])
		if at < 0 {
			t.Fatalf("%s is not stored as it is in the root image", unreadFile)
		}
		return int64(at) + 100
	}
	tests := []struct {
		board boards.Board
		path  BootPath
		where string
		image func(testing.TB, boards.Board) string
		at    func(testing.TB, string, rootfs.Spec) int64
		// orderly: found once the gateway is up, so it stops its services
		// and unmounts /var before the reboot.
		orderly bool
	}{
		{boards.QEMUArm64(), Direct, "superblock", builtImage, superblock, false},
		{boards.QEMUArmv7(), UBoot, "superblock", builtImage, superblock, false},
		{boards.QEMUArm64(), UBoot, "unread file", rootImage, unread, true},
		{boards.QEMUArmv7(), Direct, "last block", builtImage, lastBlock, false},
	}
	emulated(t)
	for _, tt := range tests {
		t.Run(tt.board.Name+"/"+tt.path.String()+"/"+tt.where, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "disk.img")
			must(t, CopyImage(tt.image(t, tt.board), img))
			at := tt.at(t, img, rootSpec(t, img))
			off := flipRootByte(t, img, at)
			t.Logf("flipped the byte at %d of the disk image (%d of %s)", off, at, rootfs.ImageFile)
			m := start(t, tt.board, img, tt.path)
			line := expectWithin(t, m, `edgegate: (root image of slot a is corrupt: [^\r\n]*); the slot is bad, rebooting`, 4*time.Minute)[1]
			t.Logf("console: %s", line)
			if tt.orderly {
				expect(t, m, `edgegate: reboot requested by a corrupt root image`)
				expect(t, m, `edgegate: services: all stopped`)
				expect(t, m, `edgegate: data: unmounted cleanly`)
			}
			if err := m.Wait(time.Minute); err != nil {
				t.Fatalf("no reboot after the corrupt root: %v\n%s", err, m.Console.String())
			}
			console := m.Console.String()
			if !regexp.MustCompile(`device-mapper: verity: \S+: data block \d+ is corrupted`).MatchString(console) {
				t.Error("the kernel did not log the corrupt block")
			}
			if tt.where == "superblock" && strings.Contains(console, "edgegate: init version=") {
				t.Error("the root's init ran on a root whose superblock is corrupt")
			}
			after := console[strings.Index(console, line):]
			for _, never := range []string{"edgegate: ready ", " started pid ", "edgegate: init version="} {
				if strings.Contains(after, never) {
					t.Errorf("the boot went on after the corrupt root was found: %q", never)
				}
			}
		})
	}
}

// rootSpec reads the root image's description from the initramfs of
// slot A of img.
func rootSpec(t testing.TB, img string) rootfs.Spec {
	t.Helper()
	raw, err := initramfsFile(img, rootfs.SpecPath)
	must(t, err)
	var spec rootfs.Spec
	must(t, json.Unmarshal(raw, &spec))
	must(t, spec.Check())
	return spec
}

// initramfsFile returns the file p of slot A's initramfs in img.
func initramfsFile(img, p string) ([]byte, error) {
	initrd, err := disk.ReadFile(img, 2, image.InitrdFile)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(initramfs.Open(initrd))
	if err != nil {
		return nil, fmt.Errorf("%s: initramfs: %w", img, err)
	}
	rr := cpio.Newc.Reader(bytes.NewReader(raw))
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			return nil, fmt.Errorf("%s: no %s in the initramfs", img, p)
		}
		if rec.Name == strings.TrimPrefix(p, "/") {
			return io.ReadAll(io.NewSectionReader(rec, 0, int64(rec.FileSize)))
		}
	}
}

// flipRootByte flips the byte at offset at of the root image file in slot
// A of img, where it lies on the disk image, and returns that offset.
func flipRootByte(t testing.TB, img string, at int64) int64 {
	t.Helper()
	root, err := disk.ReadFile(img, 2, rootfs.ImageFile)
	must(t, err)
	start := fileOnPartition(t, img, 2, root)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	b := make([]byte, 1)
	_, err = f.ReadAt(b, start+at)
	must(t, err)
	b[0] ^= 0x01
	_, err = f.WriteAt(b, start+at)
	must(t, err)
	return start + at
}

// fileOnPartition finds where a file's bytes lie on partition n of img:
// the FAT writer stores a file in consecutive clusters, so it is the
// 4 KiB-aligned offset that holds the whole file.
func fileOnPartition(t testing.TB, img string, n int, data []byte) int64 {
	t.Helper()
	f, err := os.Open(img)
	must(t, err)
	defer f.Close()
	start, size := partitionExtent(t, f, n)
	head := make([]byte, 4096)
	for off := start; off+int64(len(data)) <= start+size; off += 512 {
		if _, err := f.ReadAt(head, off); err != nil {
			t.Fatal(err)
		}
		if string(head) != string(data[:len(head)]) {
			continue
		}
		whole := make([]byte, len(data))
		if _, err := f.ReadAt(whole, off); err == nil && string(whole) == string(data) {
			return off
		}
	}
	t.Fatalf("%s: the file is not stored contiguously on partition %d", img, n)
	return 0
}

// partitionExtent is where partition n of the disk image f starts and how
// long it is, in bytes, from its MBR entry.
func partitionExtent(t testing.TB, f *os.File, n int) (start, size int64) {
	t.Helper()
	mbr := make([]byte, 512)
	_, err := f.ReadAt(mbr, 0)
	must(t, err)
	entry := mbr[446+16*(n-1):]
	return int64(binary.LittleEndian.Uint32(entry[8:])) * 512, int64(binary.LittleEndian.Uint32(entry[12:])) * 512
}
