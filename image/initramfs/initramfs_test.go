package initramfs

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func sample(t *testing.T, order []int) *Archive {
	t.Helper()
	adds := []func(a *Archive) error{
		func(a *Archive) error { return a.File("init", []byte("#!/bin/init\n"), 0o755) },
		func(a *Archive) error { return a.File("etc/edgegate/build.json", []byte(`{"board":"x"}`), 0o644) },
		func(a *Archive) error {
			return a.Symlink("lib/ld-linux-aarch64.so.1", "aarch64-linux-gnu/ld-linux-aarch64.so.1")
		},
		func(a *Archive) error { return a.Dir("var", 0o755) },
		func(a *Archive) error {
			return a.File("lib/modules/6.1/kernel/fs/ext4.ko", bytes.Repeat([]byte{7}, 5000), 0o644)
		},
	}
	a := New()
	for _, i := range order {
		if err := adds[i](a); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func TestByteIdenticalWhateverTheOrder(t *testing.T) {
	var first []byte
	for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}} {
		var buf bytes.Buffer
		if _, err := sample(t, order).WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = buf.Bytes()
			continue
		}
		if !bytes.Equal(first, buf.Bytes()) {
			t.Fatalf("order %v gave different bytes", order)
		}
	}
}

// TestReadByRealCpio lists and unpacks the archive with GNU cpio, the way
// a person would check it, and compares what comes out.
func TestReadByRealCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	var buf bytes.Buffer
	n, err := sample(t, []int{0, 1, 2, 3, 4}).WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v (buffer %d)", n, err, buf.Len())
	}
	cmd := exec.Command("cpio", "-t", "-v", "--quiet")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -t: %v", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if f[2] != "root" || f[3] != "root" {
			t.Errorf("entry not root-owned: %s", line)
		}
		names = append(names, f[8])
	}
	want := []string{"etc", "etc/edgegate", "etc/edgegate/build.json", "init", "lib", "lib/ld-linux-aarch64.so.1", "lib/modules", "lib/modules/6.1", "lib/modules/6.1/kernel", "lib/modules/6.1/kernel/fs", "lib/modules/6.1/kernel/fs/ext4.ko", "var"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("cpio lists %v\nwant %v", names, want)
	}
	dir := t.TempDir()
	cmd = exec.Command("cpio", "-i", "-d", "--quiet", "--no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	fi, err := os.Stat(filepath.Join(dir, "init"))
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("init: %v %v", fi, err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "lib/ld-linux-aarch64.so.1")); l != "aarch64-linux-gnu/ld-linux-aarch64.so.1" {
		t.Fatalf("symlink target %q", l)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "lib/modules/6.1/kernel/fs/ext4.ko"))
	if len(b) != 5000 {
		t.Fatalf("module has %d bytes", len(b))
	}
}

func TestBadInput(t *testing.T) {
	a := New()
	if err := a.File("/", nil, 0o644); err == nil {
		t.Error("File(/) accepted")
	}
	if err := a.Dir("etc", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := a.File("etc", []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "both as a directory and as a file") {
		t.Errorf("file over directory: %v", err)
	}
	if err := a.CopyGlob(t.TempDir(), "sbin/mke2fs"); err == nil || !strings.Contains(err.Error(), "matches nothing") {
		t.Errorf("CopyGlob of a missing file: %v", err)
	}
}

func TestCopyGlobKeepsLinks(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "libc.so.6"), []byte("elf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("libc.so.6", filepath.Join(lib, "libc.so")); err != nil {
		t.Fatal(err)
	}
	a := New()
	if err := a.CopyGlob(root, "lib/libc.so*"); err != nil {
		t.Fatal(err)
	}
	if e := a.entries["lib/libc.so"]; e.kind != symlink || string(e.data) != "libc.so.6" {
		t.Fatalf("lib/libc.so = %+v", e)
	}
	if e := a.entries["lib/libc.so.6"]; e.kind != regular || e.mode != 0o755 {
		t.Fatalf("lib/libc.so.6 = %+v", e)
	}
}

func TestLZ4RoundTripAndReproducible(t *testing.T) {
	var plain, first, second bytes.Buffer
	a := sample(t, []int{0, 1, 2, 3, 4})
	if _, err := a.WriteTo(&plain); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WriteLZ4(&first); err != nil {
		t.Fatal(err)
	}
	if _, err := sample(t, []int{4, 3, 2, 1, 0}).WriteLZ4(&second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Fatal("two compressed archives of the same files differ")
	}
	if got := first.Bytes()[:4]; !bytes.Equal(got, []byte{0x02, 0x21, 0x4c, 0x18}) {
		t.Fatalf("magic %x, want the legacy LZ4 frame the kernel reads", got)
	}
	back, err := io.ReadAll(Open(first.Bytes()))
	if err != nil || !bytes.Equal(back, plain.Bytes()) {
		t.Fatalf("decompressed %d bytes (err %v), want the %d-byte archive", len(back), err, plain.Len())
	}
	if first.Len() >= plain.Len() {
		t.Errorf("compressed %d >= plain %d", first.Len(), plain.Len())
	}
	if raw, _ := io.ReadAll(Open(plain.Bytes())); !bytes.Equal(raw, plain.Bytes()) {
		t.Error("Open changed an uncompressed archive")
	}
}
