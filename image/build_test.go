package image

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/debpkg"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/init/rootfs"
)

// testCache is the package cache the tests share with the Makefile, so a
// test run fetches each pinned package at most once.
func testCache(t *testing.T) *debpkg.Cache { return debpkg.Default() }

func build(t *testing.T, b boards.Board, out string) Result {
	t.Helper()
	res, err := Build(context.Background(), Options{Board: b, Version: "test", Output: out, Cache: testCache(t)})
	if err != nil {
		t.Fatalf("Build %s: %v", b.Name, err)
	}
	return res
}

// TestBuildReproducible builds every board twice from scratch (init
// compiled each time) and requires identical image bytes: the slot's
// kernel, initramfs and root image with its hash tree included.
func TestBuildReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("builds whole images")
	}
	for _, b := range boards.All() {
		t.Run(b.Name, func(t *testing.T) {
			dir := t.TempDir()
			first := build(t, b, filepath.Join(dir, "first.img"))
			second := build(t, b, filepath.Join(dir, "second.img"))
			if first.SHA256 != second.SHA256 {
				t.Fatalf("two builds differ: %s vs %s; %s", first.SHA256, second.SHA256, slotDiff(t, b, first.Output, second.Output))
			}
			checkInitialSlotState(t, first.Output)
			if first.Modules < 10 {
				t.Errorf("only %d modules resolved", first.Modules)
			}
			t.Logf("%s: %d MiB image, initramfs %d bytes, sha256 %s", b.Name, first.ImageSize>>20, first.InitramfsSize, first.SHA256)
		})
	}
}

// TestBuildBadInput: each broken input is named in the error and no
// output file is left behind.
func TestBuildBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("consults the package cache and apt")
	}
	wrongSum := boards.QEMUArm64()
	wrongSum.Userland[0].From.SHA256 = strings.Repeat("ab", 32)
	wrongSum.Userland[0].From.Name = "e2fsprogs"
	missing := boards.QEMUArm64()
	missing.Userland[0].From = boards.Package{Name: "edgegate-no-such-package", Version: "1.0", Arch: "arm64", SHA256: strings.Repeat("0", 64)}
	badModule := boards.QEMUArm64()
	badModule.Modules = append(badModule.Modules, boards.Module{Name: "no_such_driver"})
	invalid := boards.QEMUArm64()
	invalid.BootCmd = "bootm"

	dir := t.TempDir()
	tests := []struct {
		name    string
		board   boards.Board
		out     string
		want    string
		wantErr error
	}{
		{"checksum mismatch", wrongSum, filepath.Join(dir, "a.img"), "e2fsprogs", debpkg.ErrChecksum},
		{"missing package", missing, filepath.Join(dir, "b.img"), "edgegate-no-such-package", nil},
		{"unknown module", badModule, filepath.Join(dir, "c.img"), `module "no_such_driver"`, nil},
		{"invalid board", invalid, filepath.Join(dir, "d.img"), `bootCmd "bootm"`, nil},
		{"output dir missing", boards.QEMUArm64(), filepath.Join(dir, "nodir", "e.img"), "nodir", nil},
		{"output unwritable", boards.QEMUArm64(), "/sys/edgegate.img", "/sys/edgegate.img", nil},
		{"no output", boards.QEMUArm64(), "", "no file name", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A cache of our own for the broken packages, so a bad file can
			// never land in the shared one.
			cache := testCache(t)
			if tt.name == "checksum mismatch" || tt.name == "missing package" {
				cache = &debpkg.Cache{Dir: t.TempDir(), Fetch: debpkg.Apt{}}
				// The kernel is fine: seed it from the shared cache.
				k, err := testCache(t).Deb(context.Background(), tt.board.Kernel)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(cache.Dir, "debs"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(k, filepath.Join(cache.Dir, "debs", filepath.Base(k))); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Build(context.Background(), Options{Board: tt.board, Version: "test", Output: tt.out, Cache: cache})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build = %v, want an error naming %q", err, tt.want)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Build = %v, want %v", err, tt.wantErr)
			}
			if tt.out != "" {
				if _, err := os.Stat(tt.out); !os.IsNotExist(err) {
					t.Fatalf("output %s exists after a failed build", tt.out)
				}
				leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(tt.out), ".*.tmp-*"))
				if len(leftovers) > 0 {
					t.Fatalf("temporary files left: %v", leftovers)
				}
			}
		})
	}
}

// slotDiff names the files of slot A that differ between two images.
func slotDiff(t *testing.T, b boards.Board, a, c string) string {
	t.Helper()
	var differ []string
	for _, name := range []string{b.KernelFile, InitrdFile, rootfs.ImageFile} {
		x, errX := disk.ReadFile(a, 2, name)
		y, errY := disk.ReadFile(c, 2, name)
		if errX != nil || errY != nil || !bytes.Equal(x, y) {
			differ = append(differ, name)
		}
	}
	if len(differ) == 0 {
		return "slot A's files are the same"
	}
	return "slot A's " + strings.Join(differ, ", ") + " differ"
}
