package disk

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func testSpec() Spec {
	return Spec{
		DiskID: 0xed6e6a7e,
		Epoch:  1767225600,
		Partitions: []Partition{
			{SizeMiB: 40, Type: TypeFAT32LBA, Bootable: true, FAT: &FAT{Label: "EDGEBOOT", Files: map[string][]byte{
				"boot.scr": []byte("script"),
				"slot.txt": []byte("slot=a\n"),
			}}},
			{SizeMiB: 40, Type: TypeFAT32LBA, FAT: &FAT{Label: "SLOT_A", Files: map[string][]byte{
				"Image":       bytes.Repeat([]byte("k"), 3*MiB+17),
				"initrd":      bytes.Repeat([]byte("i"), 100000),
				"cmdline.txt": []byte("console=ttyAMA0"),
			}}},
			{SizeMiB: 40, Type: TypeFAT32LBA},
			{SizeMiB: 16, Type: TypeLinux},
		},
	}
}

func write(t *testing.T, s Spec) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := Write(p, s); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return p
}

func TestReproducible(t *testing.T) {
	a, b := write(t, testSpec()), write(t, testSpec())
	ha, hb := sum(t, a), sum(t, b)
	if ha != hb {
		t.Fatalf("two writes differ: %x vs %x", ha, hb)
	}
}

func sum(t *testing.T, p string) [32]byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestSfdiskReadsTable checks the partition table with util-linux's sfdisk.
func TestSfdiskReadsTable(t *testing.T) {
	if _, err := exec.LookPath("sfdisk"); err != nil {
		t.Skip("sfdisk not installed")
	}
	p := write(t, testSpec())
	out, err := exec.Command("sfdisk", "--dump", p).CombinedOutput()
	if err != nil {
		t.Fatalf("sfdisk --dump: %v: %s", err, out)
	}
	dump := string(out)
	for _, want := range []string{
		"label: dos",
		"label-id: 0xed6e6a7e",
		"disk.img1 : start=        2048, size=       81920, type=c, bootable",
		"disk.img2 : start=       83968, size=       81920, type=c",
		"disk.img3 : start=      165888, size=       81920, type=c",
		"disk.img4 : start=      247808, size=       32768, type=83",
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("sfdisk dump lacks %q:\n%s", want, dump)
		}
	}
}

// TestFsckAndMtoolsReadFAT checks each FAT with dosfstools' fsck and reads
// the files back with mtools, both independent of go-diskfs.
func TestFsckAndMtoolsReadFAT(t *testing.T) {
	for _, tool := range []string{"fsck.vfat", "mtype"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	s := testSpec()
	p := write(t, s)
	img, _ := os.ReadFile(p)
	for n := 1; n <= 2; n++ {
		part := filepath.Join(t.TempDir(), "part")
		start := s.Start(n)
		if err := os.WriteFile(part, img[start:start+int64(s.Partitions[n-1].SizeMiB)*MiB], 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("fsck.vfat", "-n", part).CombinedOutput()
		if err != nil {
			t.Fatalf("fsck.vfat -n partition %d: %v\n%s", n, err, out)
		}
		for name, want := range s.Partitions[n-1].FAT.Files {
			cmd := exec.Command("mtype", "-i", part, "::/"+name)
			cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
			got, err := cmd.Output()
			if err != nil {
				t.Fatalf("mtype %s: %v", name, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("partition %d %s: mtools read %d bytes, want %d", n, name, len(got), len(want))
			}
		}
	}
}

func TestReadFile(t *testing.T) {
	p := write(t, testSpec())
	got, err := ReadFile(p, 2, "cmdline.txt")
	if err != nil || string(got) != "console=ttyAMA0" {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	if _, err := ReadFile(p, 2, "nosuch"); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("ReadFile(nosuch) = %v", err)
	}
	if _, err := ReadFile(p, 4, "x"); err == nil {
		t.Fatal("ReadFile on the blank data partition succeeded")
	}
}

func TestReadDir(t *testing.T) {
	p := write(t, testSpec())
	got, err := ReadDir(p, 2)
	if err != nil || strings.Join(got, " ") != "Image cmdline.txt initrd" {
		t.Fatalf("ReadDir = %q, %v; want the slot's three files, sorted", got, err)
	}
	if _, err := ReadDir(p, 4); err == nil {
		t.Fatal("ReadDir on the blank data partition succeeded")
	}
}

func TestWriteRefusesBadSpecs(t *testing.T) {
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "none.img"), Spec{}); err == nil {
		t.Error("no partitions accepted")
	}
	s := testSpec()
	s.Partitions = append(s.Partitions, Partition{SizeMiB: 1})
	if err := Write(filepath.Join(dir, "five.img"), s); err == nil {
		t.Error("five partitions accepted")
	}
	s = testSpec()
	s.Partitions[0].FAT.Files["dtbs/a.dtb"] = []byte("x")
	if err := Write(filepath.Join(dir, "subdir.img"), s); err == nil || !strings.Contains(err.Error(), "dtbs/a.dtb") {
		t.Errorf("subdirectory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "subdir.img")); !os.IsNotExist(err) {
		t.Errorf("a failed Write left its output behind: %v", err)
	}
	existing := filepath.Join(dir, "exists.img")
	os.WriteFile(existing, []byte("keep"), 0o644)
	if err := Write(existing, testSpec()); err == nil {
		t.Error("Write over an existing file succeeded")
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Error("existing file was changed")
	}
}
