package ctrdbuild

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/boards"
)

// cacheDir is shared by the tests (and by later runs): a cold build of
// containerd takes minutes on two cores.
func cacheDir(t *testing.T) string {
	if d := os.Getenv("EDGEGATE_BUILD_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "edgegate", "runtime")
}

// TestBuildEveryArch builds the boards' runtimes and the host's (the one
// edged's host tests run).
func TestBuildEveryArch(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles containerd, runc and CNI plugins (minutes when cold)")
	}
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	machine := map[boards.Arch]elf.Machine{boards.ARM64: elf.EM_AARCH64, boards.ARMv7: elf.EM_ARM, AMD64: elf.EM_X86_64}
	for _, arch := range []boards.Arch{boards.ARM64, boards.ARMv7, AMD64} {
		t.Run(string(arch), func(t *testing.T) {
			b := Builder{Cache: cacheDir(t), Source: src, Progress: t.Logf}
			bins, err := b.Build(context.Background(), arch)
			if err != nil {
				t.Fatal(err)
			}
			files := []string{bins.Containerd, bins.Runc}
			for _, p := range bins.Plugins {
				files = append(files, p)
			}
			if len(bins.Plugins) != len(Plugins) {
				t.Errorf("got %d plugins, want %d", len(bins.Plugins), len(Plugins))
			}
			for _, f := range files {
				checkStaticELF(t, f, machine[arch])
			}
			// A second build with the same inputs is a cache hit.
			start := time.Now()
			again, err := b.Build(context.Background(), arch)
			if err != nil {
				t.Fatal(err)
			}
			if again.Containerd != bins.Containerd || again.Runc != bins.Runc {
				t.Errorf("second build gave other files: %+v vs %+v", again, bins)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("cached build took %v", d)
			}
		})
	}
}

// checkStaticELF: the image has no C library for the runtime, so every
// binary must be static (no program interpreter) and for the board's CPU.
func checkStaticELF(t *testing.T, path string, want elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		t.Errorf("%s: machine %v, want %v", path, f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s: dynamically linked (has an interpreter)", path)
		}
	}
	st, _ := os.Stat(path)
	t.Logf("%s: %d bytes", filepath.Base(path), st.Size())
}

// TestBuildReproducible builds the arm64 runtime into two empty caches and
// requires the same bytes: a slot image is only reproducible if its
// binaries are. Go's own build cache is shared, so this checks what differs
// from one build to the next here (the scratch GOPATH of go install, output
// paths, build IDs, link flags), not the compiler.
func TestBuildReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles containerd, runc and CNI plugins")
	}
	src, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var sums [2]map[string]string
	for i := range sums {
		b := Builder{Cache: t.TempDir(), Source: src}
		bins, err := b.Build(context.Background(), boards.ARM64)
		if err != nil {
			t.Fatal(err)
		}
		sums[i] = map[string]string{"containerd": fileSum(t, bins.Containerd), "runc": fileSum(t, bins.Runc)}
		for n, p := range bins.Plugins {
			sums[i][n] = fileSum(t, p)
		}
	}
	for n, s := range sums[0] {
		if sums[1][n] != s {
			t.Errorf("%s differs between two builds: %s vs %s", n, s, sums[1][n])
		}
	}
}

func fileSum(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

func TestCachedPrunesOlderEntries(t *testing.T) {
	b := Builder{Cache: t.TempDir()}
	build := func(content string) func(string) error {
		return func(out string) error { return os.WriteFile(out, []byte(content), 0o755) }
	}
	first, err := b.cached(newKey("v1"), "runc", boards.ARM64, build("one"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.cached(newKey("v1"), "runc", boards.ARMv7, build("armv7"))
	if err != nil {
		t.Fatal(err)
	}
	// A failed build keeps what was there.
	if _, err := b.cached(newKey("v2"), "runc", boards.ARM64, func(string) error { return fmt.Errorf("cc failed") }); err == nil {
		t.Fatal("failed build reported success")
	}
	if _, err := os.Stat(first); err != nil {
		t.Fatalf("failed build removed the previous entry: %v", err)
	}
	second, err := b.cached(newKey("v3"), "runc", boards.ARM64, build("two"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Errorf("old arm64 entry kept: %v", err)
	}
	for _, p := range []string{second, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("entry %s gone: %v", p, err)
		}
	}
	if again, err := b.cached(newKey("v3"), "runc", boards.ARM64, build("never")); err != nil || again != second {
		t.Errorf("cache hit = %s, %v; want %s", again, err, second)
	}
}

func TestHostArch(t *testing.T) {
	arch, err := HostArch()
	want := map[string]boards.Arch{"amd64": AMD64, "arm64": boards.ARM64, "arm": boards.ARMv7}[runtime.GOARCH]
	switch {
	case want == "" && err == nil:
		t.Errorf("HostArch on %s = %s, want an error", runtime.GOARCH, arch)
	case want != "" && (err != nil || arch != want):
		t.Errorf("HostArch on %s = %q, %v; want %s", runtime.GOARCH, arch, err, want)
	}
}

// An architecture without a build is refused by name before anything runs.
func TestBuildRefusesUnknownArch(t *testing.T) {
	b := Builder{Cache: t.TempDir(), Source: t.TempDir()}
	_, err := b.Build(context.Background(), boards.Arch("riscv64"))
	if err == nil || !strings.Contains(err.Error(), `"riscv64"`) {
		t.Fatalf("Build(riscv64) = %v, want an error naming the architecture", err)
	}
}
