package debpkg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
)

// buildDeb makes a real .deb with dpkg-deb holding etc/hello and a symlink.
func buildDeb(t *testing.T, compress string) (path, sum string) {
	t.Helper()
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb not installed")
	}
	root := t.TempDir()
	for _, d := range []string{"DEBIAN", "etc", "usr/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	control := "Package: hello\nVersion: 1.0\nArchitecture: arm64\nMaintainer: edgegate <dev@edgegate.invalid>\nDescription: test\n"
	must(t, os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "etc/hello"), []byte("hello\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(root, "usr/lib/libx.so.1.2"), []byte("lib"), 0o755))
	must(t, os.Symlink("libx.so.1.2", filepath.Join(root, "usr/lib/libx.so.1")))
	path = filepath.Join(t.TempDir(), "hello_1.0_arm64.deb")
	out, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+compress, "--build", root, path).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, out)
	}
	b, err := os.ReadFile(path)
	must(t, err)
	s := sha256.Sum256(b)
	return path, hex.EncodeToString(s[:])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyFetcher plays apt: it serves one file and counts calls.
type copyFetcher struct {
	src   string
	calls int
}

func (f *copyFetcher) Fetch(_ context.Context, p boards.Package, dir string) error {
	f.calls++
	if f.src == "" {
		return errors.New("E: Unable to locate package " + p.Name)
	}
	b, err := os.ReadFile(f.src)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, p.Filename()), b, 0o644)
}

func TestExtractFormats(t *testing.T) {
	for _, comp := range []string{"xz", "gzip", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			deb, _ := buildDeb(t, comp)
			dir := t.TempDir()
			if err := ExtractFile(deb, dir); err != nil {
				t.Fatalf("ExtractFile: %v", err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "etc/hello"))
			if err != nil || string(b) != "hello\n" {
				t.Fatalf("etc/hello = %q, %v", b, err)
			}
			if l, err := os.Readlink(filepath.Join(dir, "usr/lib/libx.so.1")); err != nil || l != "libx.so.1.2" {
				t.Fatalf("symlink = %q, %v", l, err)
			}
		})
	}
}

func TestExtractRejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	err := Extract(strings.NewReader("this is not a package"), dir)
	if err == nil || !strings.Contains(err.Error(), "not a Debian package") {
		t.Fatalf("Extract(garbage) = %v", err)
	}
	err = Extract(strings.NewReader("!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n"), dir)
	if err == nil || !strings.Contains(err.Error(), "no data.tar") {
		t.Fatalf("Extract(no data) = %v", err)
	}
}

func TestWithinConfinesPaths(t *testing.T) {
	if _, err := within("/tmp/x", "../../etc/passwd"); err != nil {
		t.Fatalf("a path with .. must be confined to the root: %v", err)
	}
	p, _ := within("/tmp/x", "../../etc/passwd")
	if p != "/tmp/x/etc/passwd" {
		t.Fatalf("within = %q", p)
	}
}

func TestCacheFetchVerifyAndReuse(t *testing.T) {
	deb, sum := buildDeb(t, "xz")
	f := &copyFetcher{src: deb}
	c := &Cache{Dir: t.TempDir(), Fetch: f}
	p := boards.Package{Name: "hello", Version: "1.0", Arch: "arm64", SHA256: sum}
	ctx := context.Background()
	root, err := c.Unpacked(ctx, p)
	if err != nil {
		t.Fatalf("Unpacked: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc/hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deb(ctx, p); err != nil || f.calls != 1 {
		t.Fatalf("second Deb: err=%v fetches=%d, want 1 fetch in all", err, f.calls)
	}
	// A damaged cached file is fetched again, not trusted.
	cached := filepath.Join(c.Dir, "debs", p.Filename())
	must(t, os.WriteFile(cached, []byte("damaged"), 0o644))
	if _, err := c.Deb(ctx, p); err != nil || f.calls != 2 {
		t.Fatalf("Deb after damage: err=%v fetches=%d", err, f.calls)
	}
}

func TestCacheChecksumMismatch(t *testing.T) {
	deb, _ := buildDeb(t, "xz")
	c := &Cache{Dir: t.TempDir(), Fetch: &copyFetcher{src: deb}}
	p := boards.Package{Name: "hello", Version: "1.0", Arch: "arm64", SHA256: strings.Repeat("0", 64)}
	_, err := c.Deb(context.Background(), p)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "hello 1.0") {
		t.Fatalf("Deb with wrong sha256 = %v, want checksum error naming the package", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "debs", p.Filename())); !os.IsNotExist(err) {
		t.Fatalf("a package with the wrong checksum was left in the cache: %v", err)
	}
}

func TestCacheMissingPackage(t *testing.T) {
	c := &Cache{Dir: t.TempDir(), Fetch: &copyFetcher{}}
	p := boards.Package{Name: "nosuch", Version: "1", Arch: "arm64", SHA256: strings.Repeat("0", 64)}
	_, err := c.Deb(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "nosuch") || !strings.Contains(err.Error(), "Unable to locate") {
		t.Fatalf("Deb(missing) = %v", err)
	}
}

// TestConcurrentUnpack: builds running at once (test packages run in
// parallel) share one cache; each must get the tree, none an error.
func TestConcurrentUnpack(t *testing.T) {
	deb, sum := buildDeb(t, "xz")
	dir := t.TempDir()
	p := boards.Package{Name: "hello", Version: "1.0", Arch: "arm64", SHA256: sum}
	errs := make(chan error, 8)
	for i := 0; i < cap(errs); i++ {
		go func() {
			c := &Cache{Dir: dir, Fetch: &copyFetcher{src: deb}}
			root, err := c.Unpacked(context.Background(), p)
			if err == nil {
				_, err = os.Stat(filepath.Join(root, "etc/hello"))
			}
			errs <- err
		}()
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
