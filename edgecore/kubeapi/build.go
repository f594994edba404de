// Package kubeapi builds and runs a real kube-apiserver with its etcd for
// end-to-end tests, so that a test cloud can apply an edge node's messages
// to the Kubernetes API and let the apiserver's own validation, admission
// and optimistic concurrency decide what is accepted, instead of a fake that
// only agrees with our reading of them.
//
// Both binaries are compiled from the nested module in build/, whose go.mod
// and go.sum pin every input: kube-apiserver from k8s.io/kubernetes v1.32.13
// (the line KubeEdge cloudcore v1.23 is built against) and etcd from the
// version that kubernetes release requires itself. Builds are cached per
// machine, so only the first run pays for them.
package kubeapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Version is the Kubernetes release the apiserver is built from; build/go.mod
// requires exactly this k8s.io/kubernetes version.
const Version = "v1.32.13"

// buildModule is the nested module's directory relative to edgegate's
// module root.
const buildModule = "edgecore/kubeapi/build"

// Binaries are the built executables.
type Binaries struct {
	APIServer string // kube-apiserver
	Etcd      string // etcd
}

// Names of the binaries inside a cache entry.
const (
	apiserverName = "kube-apiserver"
	etcdName      = "etcd"
)

// buildTags are the tags Kubernetes' own release builds use
// (hack/lib/golang.sh), so the apiserver is the one a cluster runs.
const buildTags = "selinux,notest"

// ldflags strip symbols and stamp the version /version reports, as
// hack/lib/version.sh does for both version packages. Build date and commit
// stay at their defaults so the binaries are reproducible.
func ldflags() string {
	flags := []string{"-s", "-w"}
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		major, minor, _ := strings.Cut(strings.TrimPrefix(Version, "v"), ".")
		minor, _, _ = strings.Cut(minor, ".")
		flags = append(flags,
			"-X", pkg+".gitVersion="+Version,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean")
	}
	return strings.Join(flags, " ")
}

// DefaultCacheDir is where Build keeps its entries unless told otherwise:
// kubeapi/ in $EDGEGATE_CACHE, else in edgegate/ in the user's cache
// directory. That is the root image/debpkg.DefaultDir and the Makefile use;
// it is repeated here so that edgecore does not depend on the image builder.
func DefaultCacheDir() string {
	root := os.Getenv("EDGEGATE_CACHE")
	if root == "" {
		if d, err := os.UserCacheDir(); err == nil {
			root = filepath.Join(d, "edgegate")
		} else {
			root = filepath.Join(".cache", "edgegate")
		}
	}
	return filepath.Join(root, "kubeapi")
}

// Build returns kube-apiserver and etcd for this machine from cacheDir,
// compiling them there first when the cache has no entry for the current
// inputs: the nested module's go.mod, go.sum and sources, the Go version and
// the build flags. It must run inside edgegate's source tree (tests do),
// where it finds the nested module. progress receives one line per step and
// may be nil.
func Build(ctx context.Context, cacheDir string, progress func(format string, args ...any)) (Binaries, error) {
	if progress == nil {
		progress = func(string, ...any) {}
	}
	src, err := sourceDir(ctx)
	if err != nil {
		return Binaries{}, err
	}
	goVersion, err := goOutput(ctx, "", "env", "GOVERSION")
	if err != nil {
		return Binaries{}, err
	}
	key, err := cacheKey(src, goVersion)
	if err != nil {
		return Binaries{}, err
	}
	entry := filepath.Join(cacheDir, key)
	bins := Binaries{APIServer: filepath.Join(entry, apiserverName), Etcd: filepath.Join(entry, etcdName)}
	if _, err := os.Stat(entry); err == nil {
		return bins, nil
	}

	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("kubeapi build cache: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheDir, lockName))
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if _, err := os.Stat(entry); err == nil {
		return bins, nil // built while we waited for the lock
	}
	// A directory of its own per build, renamed into place when complete:
	// an interrupted build leaves nothing that looks finished, and builds
	// of the same entry at once (where lockFile cannot lock) do not collide.
	tmp, err := os.MkdirTemp(cacheDir, key+partialSuffix)
	if err != nil {
		return Binaries{}, fmt.Errorf("kubeapi build cache: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed

	progress("kubeapi: compiling kube-apiserver %s and etcd with %s (first run on this machine only; takes minutes)", Version, goVersion)
	start := time.Now()
	if err := compile(ctx, src, tmp); err != nil {
		return Binaries{}, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp made it 0700
		return Binaries{}, fmt.Errorf("kubeapi build cache: %w", err)
	}
	if err := os.Rename(tmp, entry); err != nil {
		// Another build of the same inputs finished first; its result is
		// equal to ours.
		if _, statErr := os.Stat(bins.APIServer); statErr != nil {
			return Binaries{}, fmt.Errorf("kubeapi build cache: %w", err)
		}
	}
	progress("kubeapi: built into %s in %s", entry, time.Since(start).Round(time.Second))
	pruneCache(cacheDir, key)
	return bins, nil
}

const (
	// partialSuffix marks build directories that are not finished.
	partialSuffix = ".partial-"
	// lockName is the file builds lock, one at a time per cache.
	lockName = "build.lock"
)

// compile builds both binaries into dir in one go command, so that the
// packages they share are compiled once.
func compile(ctx context.Context, src, dir string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", buildTags, "-ldflags", ldflags(),
		"-o", dir+string(filepath.Separator), "k8s.io/kubernetes/cmd/kube-apiserver", "./etcd")
	cmd.Dir = src
	// -mod=readonly: go.mod and go.sum are committed and must be complete;
	// a build never edits them. The host's GOOS/GOARCH, since the binaries
	// run here; GOWORK=off so that no workspace overrides the pins.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly -buildvcs=false", "GOWORK=off",
		"GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kubeapi: go build in %s: %w: %s", src, err, strings.TrimSpace(string(out)))
	}
	for _, name := range []string{apiserverName, etcdName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("kubeapi: go build left no %s: %w", name, err)
		}
	}
	return nil
}

// sourceDir finds the nested build module from the current directory,
// which is inside edgegate's module when tests run.
func sourceDir(ctx context.Context) (string, error) {
	gomod, err := goOutput(ctx, "", "env", "GOMOD")
	if err != nil {
		return "", err
	}
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("kubeapi: not inside edgegate's Go module, cannot find " + buildModule)
	}
	dir := filepath.Join(filepath.Dir(gomod), filepath.FromSlash(buildModule))
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		return "", fmt.Errorf("kubeapi: build module: %w", err)
	}
	return dir, nil
}

// cacheKey hashes every input of the build.
func cacheKey(src, goVersion string) (string, error) {
	h := sha256.New()
	for _, part := range []string{goVersion, runtime.GOOS, runtime.GOARCH, buildTags, ldflags()} {
		fmt.Fprintf(h, "%d:%s\n", len(part), part)
	}
	for _, name := range []string{"go.mod", "go.sum", filepath.Join("etcd", "main.go")} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("kubeapi: build input: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(name), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// pruneCache removes finished entries other than keep (about 150 MB each;
// every go.mod or Go change makes a new one) and partial builds abandoned a
// day ago or more. Partial builds of today may be running in another test
// binary. Failures only cost disk space.
func pruneCache(dir, keep string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if name == keep || !e.IsDir() || !isEntry(name) {
			continue
		}
		if strings.Contains(name, partialSuffix) && !olderThan(e, 24*time.Hour) {
			continue
		}
		os.RemoveAll(filepath.Join(dir, name))
	}
}

// isEntry tells cache entries, finished or partial, from anything else
// someone may have put into the directory.
func isEntry(name string) bool {
	key, _, _ := strings.Cut(name, partialSuffix)
	_, err := hex.DecodeString(key)
	return len(key) == 32 && err == nil
}

func olderThan(e fs.DirEntry, age time.Duration) bool {
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > age
}

// goOutput runs the go command and returns its trimmed standard output.
func goOutput(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("kubeapi: go %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
