// Package debpkg fetches pinned Debian packages, checks them against their
// sha256 and unpacks them, keeping both in a cache directory so a second
// build touches no network.
package debpkg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/edgegate/edgegate/boards"
)

// Fetcher downloads one package file into dir, named p.Filename().
type Fetcher interface {
	Fetch(ctx context.Context, p boards.Package, dir string) error
}

// Apt fetches packages with `apt-get download`, from whatever sources the
// host's apt is configured with. Foreign architectures (arm64, armhf) must
// have been added with dpkg --add-architecture and apt-get update run.
type Apt struct{}

// Fetch runs apt-get download for p in dir.
func (Apt) Fetch(ctx context.Context, p boards.Package, dir string) error {
	cmd := exec.CommandContext(ctx, "apt-get", "download", "-q", p.Spec())
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get download %s: %w: %s", p.Spec(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Cache holds downloaded .deb files and their unpacked trees.
type Cache struct {
	Dir   string
	Fetch Fetcher
}

// ErrChecksum is wrapped by errors about a package whose sha256 is wrong.
var ErrChecksum = errors.New("sha256 mismatch")

// Deb returns the path of the verified .deb for p, fetching it when the
// cache lacks it. A cached file with the wrong sha256 is removed and
// fetched again; a fetched file with the wrong sha256 is an error.
func (c *Cache) Deb(ctx context.Context, p boards.Package) (string, error) {
	dir := filepath.Join(c.Dir, "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("package cache: %w", err)
	}
	path := filepath.Join(dir, p.Filename())
	if err := verify(path, p.SHA256); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		// A stale or damaged file: fetch it again rather than trust it.
		os.Remove(path)
	}
	if c.Fetch == nil {
		return "", fmt.Errorf("package %s: not in cache %s and no fetcher configured", p, dir)
	}
	tmp, err := os.MkdirTemp(dir, ".fetch-")
	if err != nil {
		return "", fmt.Errorf("package cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := c.Fetch.Fetch(ctx, p, tmp); err != nil {
		return "", fmt.Errorf("package %s: %w", p, err)
	}
	got := filepath.Join(tmp, p.Filename())
	if err := verify(got, p.SHA256); err != nil {
		return "", fmt.Errorf("package %s: %w", p, err)
	}
	if err := os.Rename(got, path); err != nil {
		return "", fmt.Errorf("package cache: %w", err)
	}
	return path, nil
}

// Unpacked returns a directory holding p's data tree, unpacking the .deb
// into the cache the first time. The directory is complete or absent: it is
// unpacked aside and renamed into place.
func (c *Cache) Unpacked(ctx context.Context, p boards.Package) (string, error) {
	root := filepath.Join(c.Dir, "unpacked", p.SHA256)
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	deb, err := c.Deb(ctx, p)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return "", fmt.Errorf("package cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), ".unpack-")
	if err != nil {
		return "", fmt.Errorf("package cache: %w", err)
	}
	if err := ExtractFile(deb, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("package %s: %w", p, err)
	}
	if err := os.Rename(tmp, root); err != nil {
		os.RemoveAll(tmp)
		// Another build sharing the cache unpacked the same package first;
		// its tree is as good as ours.
		if _, serr := os.Stat(root); serr == nil {
			return root, nil
		}
		return "", fmt.Errorf("package cache: %w", err)
	}
	return root, nil
}

func verify(path, want string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: %s has %s, want %s", ErrChecksum, filepath.Base(path), got, want)
	}
	return nil
}

// DefaultDir is the package cache edgegate uses unless told otherwise:
// $EDGEGATE_CACHE, else edgegate/ in the user's cache directory. The
// Makefile, the CLI and the tests share it, so each pinned package is
// fetched once per machine.
func DefaultDir() string {
	if d := os.Getenv("EDGEGATE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "edgegate")
	}
	return filepath.Join(".cache", "edgegate")
}

// Default returns a cache in DefaultDir that fetches with apt.
func Default() *Cache {
	return &Cache{Dir: DefaultDir(), Fetch: Apt{}}
}
