// Package ctrdbuild compiles the container runtime that goes into an
// image: edgegate's multi-call containerd binary (containerd v2 pinned in
// go.mod, its runc shim, the init service and edgegate-ctr), runc (static,
// with seccomp, cross-compiled with Debian's gcc) and the CNI plugins of the
// bridge network. Builds are reproducible (-trimpath, no VCS stamping, fixed
// ldflags) and kept in a cache keyed by every input, so a second image
// build costs nothing. The same runtime builds for the machine's own
// architecture too (HostArch), for the tests that run edged against a real
// containerd on the host.
package ctrdbuild

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/edgegate/edgegate/boards"
)

// Pinned versions of what is built outside edgegate's own module.
// containerd itself is pinned in go.mod (ContainerdVersion must match it).
const (
	ContainerdVersion = "v2.4.2"
	RuncVersion       = "v1.5.2"
	PluginsVersion    = "v1.10.0"
)

// containerdTags drop what a gateway does not use (Kubernetes CRI, OTLP
// tracing, cgo-only snapshotters); the shim's no_grpc halves its part.
const containerdTags = "urfave_cli_no_docs osusergo netgo static_build no_btrfs no_devmapper no_zfs no_cri no_tracing"

// runcTags: seccomp on; libpathrs (Rust) left out, runc then uses its Go path.
const runcTags = "seccomp urfave_cli_no_docs netgo osusergo"

// Plugins are the CNI plugins the image carries, by name in the image.
var Plugins = map[string]string{
	"bridge":     "github.com/containernetworking/plugins/plugins/main/bridge",
	"host-local": "github.com/containernetworking/plugins/plugins/ipam/host-local",
	"loopback":   "github.com/containernetworking/plugins/plugins/main/loopback",
	"portmap":    "github.com/containernetworking/plugins/plugins/meta/portmap",
}

// module is edgegate's Go module path.
const module = "github.com/edgegate/edgegate"

// AMD64 is x86-64, the architecture of development machines and CI. No
// board has it: its runtime runs edged's host tests and benchmark against
// a real containerd.
const AMD64 boards.Arch = "amd64"

// target is how the runtime is compiled for one architecture.
type target struct {
	goarch, goarm string
	// triplet names the GNU C compiler (<triplet>-gcc) and the directory
	// of Debian's libseccomp-dev for the architecture (/usr/lib/<triplet>).
	triplet   string
	ccPackage string // the Debian package of <triplet>-gcc
	debian    string // Debian architecture, for libseccomp-dev:<debian>
	// staticPIE: runc links as a static PIE, as runc's "make static" does,
	// where the C library has rcrt1.o for it (Debian's armhf glibc has not).
	staticPIE bool
}

var targets = map[boards.Arch]target{
	boards.ARM64: {goarch: "arm64", triplet: "aarch64-linux-gnu", ccPackage: "gcc-aarch64-linux-gnu", debian: "arm64", staticPIE: true},
	boards.ARMv7: {goarch: "arm", goarm: "7", triplet: "arm-linux-gnueabihf", ccPackage: "gcc-arm-linux-gnueabihf", debian: "armhf"},
	AMD64: {goarch: "amd64", triplet: "x86_64-linux-gnu", ccPackage: "gcc on an amd64 machine, else gcc-x86-64-linux-gnu",
		debian: "amd64", staticPIE: true},
}

// HostArch is the architecture of the machine this runs on, for a runtime
// that runs here.
func HostArch() (boards.Arch, error) {
	for a, t := range targets {
		if t.goarch == runtime.GOARCH {
			return a, nil
		}
	}
	return "", fmt.Errorf("ctrdbuild: no runtime build for this machine's architecture %s", runtime.GOARCH)
}

// Binaries are the built files for one architecture, by role.
type Binaries struct {
	Containerd string            // the multi-call binary
	Runc       string            // static runc
	Plugins    map[string]string // CNI plugin name -> file
}

// Builder builds into and reuses Cache.
type Builder struct {
	Cache  string // directory of finished builds, one per input hash
	Source string // edgegate's module root
	// Progress receives one line per step; nil discards them.
	Progress func(format string, args ...any)
}

// Build returns the runtime binaries for arch, building what the cache
// lacks.
func (b Builder) Build(ctx context.Context, arch boards.Arch) (Binaries, error) {
	if _, ok := targets[arch]; !ok {
		return Binaries{}, fmt.Errorf("ctrdbuild: no runtime build for architecture %q", arch)
	}
	if b.Progress == nil {
		b.Progress = func(string, ...any) {}
	}
	goVersion, err := output(ctx, "", nil, "go", "env", "GOVERSION")
	if err != nil {
		return Binaries{}, err
	}
	var bins Binaries
	if bins.Containerd, err = b.containerd(ctx, arch, goVersion); err != nil {
		return Binaries{}, err
	}
	if bins.Runc, err = b.runc(ctx, arch, goVersion); err != nil {
		return Binaries{}, err
	}
	bins.Plugins = map[string]string{}
	names := make([]string, 0, len(Plugins))
	for n := range Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if bins.Plugins[n], err = b.plugin(ctx, arch, goVersion, n); err != nil {
			return Binaries{}, err
		}
	}
	return bins, nil
}

func goEnv(arch boards.Arch, cgo bool) []string {
	t := targets[arch]
	env := []string{"GOOS=linux", "GOARCH=" + t.goarch, "GOARM=" + t.goarm, "GOFLAGS=-buildvcs=false"}
	if cgo {
		return append(env, "CGO_ENABLED=1")
	}
	return append(env, "CGO_ENABLED=0")
}

// containerd builds cmd/edgegate-containerd from the source tree; its key
// covers go.mod, go.sum and the sources of the packages it is made of.
func (b Builder) containerd(ctx context.Context, arch boards.Arch, goVersion string) (string, error) {
	ldflags := "-s -w -X github.com/containerd/containerd/v2/version.Version=" + ContainerdVersion
	key := newKey("edgegate-containerd", goVersion, string(arch), containerdTags, ldflags)
	for _, p := range []string{"go.mod", "go.sum"} {
		if err := key.file(filepath.Join(b.Source, p)); err != nil {
			return "", err
		}
	}
	dirs, err := ownPackages(ctx, b.Source, goEnv(arch, false), containerdTags, "./cmd/edgegate-containerd")
	if err != nil {
		return "", err
	}
	for _, d := range dirs {
		if err := key.goFiles(d); err != nil {
			return "", err
		}
	}
	return b.cached(key, "edgegate-containerd", arch, func(out string) error {
		b.Progress("compiling containerd %s for %s", ContainerdVersion, arch)
		_, err := output(ctx, b.Source, goEnv(arch, false), "go", "build", "-trimpath", "-tags", containerdTags,
			"-ldflags", ldflags, "-o", out, "./cmd/edgegate-containerd")
		return err
	})
}

// ownPackages lists the directories of the edgegate packages pkg is built
// from (for arch and tags): their sources are inputs of its cache key.
func ownPackages(ctx context.Context, src string, env []string, tags, pkg string) ([]string, error) {
	format := `{{with .Module}}{{if eq .Path "` + module + `"}}{{$.Dir}}{{end}}{{end}}`
	cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", tags, "-f", format, pkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr // "go: downloading" lines must not be taken for directories
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %w: %s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	return strings.Fields(string(out)), nil
}

// runc is cgo (libseccomp, nsexec) linked statically with Debian's gcc
// for the target: the cross compiler for a board, the native one (also
// named x86_64-linux-gnu-gcc) for the host.
func (b Builder) runc(ctx context.Context, arch boards.Arch, goVersion string) (string, error) {
	t := targets[arch]
	triplet := t.triplet
	cc := triplet + "-gcc"
	ccVersion, err := output(ctx, "", nil, cc, "-dumpfullversion")
	if err != nil {
		return "", fmt.Errorf("runc needs the C compiler %s (Debian %s) and libseccomp-dev:%s: %w",
			cc, t.ccPackage, t.debian, err)
	}
	mode, static := "-buildmode=pie", "-static-pie"
	if !t.staticPIE {
		mode, static = "-buildmode=exe", "-static"
	}
	ldflags := "-s -w -X main.gitCommit=" + RuncVersion + " -X main.version=" + strings.TrimPrefix(RuncVersion, "v") +
		" -linkmode external -extldflags " + static
	key := newKey("runc", RuncVersion, goVersion, string(arch), runcTags, mode, ldflags, cc, ccVersion)
	if err := key.file(filepath.Join("/usr/lib", triplet, "libseccomp.a")); err != nil {
		return "", fmt.Errorf("runc needs libseccomp-dev:%s: %w", t.debian, err)
	}
	env := append(goEnv(arch, true), "CC="+cc, "PKG_CONFIG_PATH=/usr/lib/"+triplet+"/pkgconfig")
	return b.cached(key, "runc", arch, func(out string) error {
		b.Progress("compiling runc %s for %s", RuncVersion, arch)
		return goInstall(ctx, env, out, "github.com/opencontainers/runc@"+RuncVersion,
			mode, "-tags", runcTags, "-ldflags", ldflags)
	})
}

func (b Builder) plugin(ctx context.Context, arch boards.Arch, goVersion, name string) (string, error) {
	ldflags := "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=" + PluginsVersion
	key := newKey("cni", name, PluginsVersion, goVersion, string(arch), ldflags)
	return b.cached(key, name, arch, func(out string) error {
		b.Progress("compiling CNI %s %s for %s", name, PluginsVersion, arch)
		return goInstall(ctx, goEnv(arch, false), out, Plugins[name]+"@"+PluginsVersion, "-ldflags", ldflags)
	})
}

// goInstall builds pkg@version in module mode, outside edgegate's go.mod,
// so the module's own go.sum decides its dependencies. go install will not
// take GOBIN for a cross build, so it installs into a scratch GOPATH whose
// module cache is the usual one.
func goInstall(ctx context.Context, env []string, out, pkgAtVersion string, flags ...string) error {
	modcache, err := output(ctx, "", nil, "go", "env", "GOMODCACHE")
	if err != nil {
		return err
	}
	gopath, err := os.MkdirTemp("", "edgegate-gopath-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(gopath)
	env = append(env, "GOPATH="+gopath, "GOMODCACHE="+modcache, "GOBIN=")
	args := append([]string{"install", "-trimpath"}, flags...)
	if _, err := output(ctx, "", env, "go", append(args, pkgAtVersion)...); err != nil {
		return err
	}
	var goarch string
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "GOARCH="); ok {
			goarch = v
		}
	}
	name := filepath.Base(strings.SplitN(pkgAtVersion, "@", 2)[0])
	bin := filepath.Join(gopath, "bin")
	if goarch != runtime.GOARCH || runtime.GOOS != "linux" {
		bin = filepath.Join(bin, "linux_"+goarch) // where go install puts a cross build
	}
	return copyFile(filepath.Join(bin, name), out)
}

// cached returns the cache entry for key, running build into a temporary
// file and renaming it into place when missing: a failed or interrupted
// build leaves nothing that looks finished. Entries are named
// <name>-<arch>-<hash>; a new build of name for arch removes the older
// ones (each containerd build is 30 MB, and every source change makes one).
func (b Builder) cached(k *key, name string, arch boards.Arch, build func(out string) error) (string, error) {
	prefix := name + "-" + string(arch) + "-"
	dir := filepath.Join(b.Cache, prefix+k.sum())
	final := filepath.Join(dir, name)
	if _, err := os.Stat(final); err == nil {
		return final, nil
	}
	defer pruneOthers(b.Cache, prefix, final)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	// A name of its own per build: test packages run in parallel and may
	// build the same entry at once; the last rename wins, and all are equal.
	f, err := os.CreateTemp(dir, name+".partial-")
	if err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	f.Close()
	tmp := f.Name()
	if err := build(tmp); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil { // CreateTemp made it 0600
		os.Remove(tmp)
		return "", fmt.Errorf("build cache: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build cache: %w", err)
	}
	return final, nil
}

// pruneOthers removes the cache entries starting with prefix except the
// one holding file, once file is there. Failures only cost disk space.
func pruneOthers(cache, prefix, file string) {
	if _, err := os.Stat(file); err != nil {
		return
	}
	keep := filepath.Dir(file)
	old, _ := filepath.Glob(filepath.Join(cache, prefix+"*"))
	for _, d := range old {
		if d != keep {
			os.RemoveAll(d)
		}
	}
}

func output(ctx context.Context, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// key hashes every input of one build.
type key struct{ h hashWriter }

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

func newKey(parts ...string) *key {
	k := &key{h: sha256.New()}
	for _, p := range parts {
		fmt.Fprintf(k.h, "%d:%s\n", len(p), p)
	}
	return k
}

func (k *key) file(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(k.h, "%s %d\n", filepath.Base(path), len(b))
	k.h.Write(b)
	return nil
}

// goFiles adds the non-test Go files of one package directory.
func (k *key) goFiles(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			if err := k.file(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (k *key) sum() string { return hex.EncodeToString(k.h.Sum(nil))[:32] }
