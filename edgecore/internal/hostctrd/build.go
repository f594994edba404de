package hostctrd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/ctrdbuild"
	"github.com/edgegate/edgegate/image/debpkg"
)

// ErrMissing marks what the machine lacks (the source tree, a tool, a
// library): the tests skip instead of failing.
var ErrMissing = errors.New("a prerequisite is missing")

// buildTimeout bounds the runtime's build: a cold one takes minutes on two
// cores; a cached one, a second.
const buildTimeout = 30 * time.Minute

// Build returns the runtime for this machine from the build cache shared
// with image builds, building what it lacks. It builds once per test
// binary: every later call returns the first call's result.
func Build() (ctrdbuild.Binaries, error) { return build() }

var build = sync.OnceValues(func() (ctrdbuild.Binaries, error) {
	src, err := image.FindSource(".")
	if err != nil {
		return ctrdbuild.Binaries{}, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	arch, err := ctrdbuild.HostArch()
	if err != nil {
		return ctrdbuild.Binaries{}, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	b := ctrdbuild.Builder{
		Cache: filepath.Join(debpkg.DefaultDir(), "runtime"), Source: src,
		Progress: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "hostctrd: "+format+"\n", args...) },
	}
	bins, err := b.Build(ctx, arch)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return ctrdbuild.Binaries{}, fmt.Errorf("%w: %v", ErrMissing, err)
	}
	if err != nil {
		return ctrdbuild.Binaries{}, fmt.Errorf("building the runtime for %s: %w", arch, err)
	}
	return bins, nil
})

// Layout is a runtime laid out in a directory: bin/ holds the daemon, the
// shim, edgegate-ctr and runc under the names containerd looks for (the
// multi-call binary takes its role from its name), cni/ the plugins.
type Layout struct{ Dir string }

// Bin is the directory of the daemon, the shim and runc: the daemon's
// PATH starts there, as it finds the shim, and the shim runc, by PATH.
func (l Layout) Bin() string { return filepath.Join(l.Dir, "bin") }

// CNIBin is the directory of the CNI plugins.
func (l Layout) CNIBin() string { return filepath.Join(l.Dir, "cni") }

// Containerd is the daemon's executable.
func (l Layout) Containerd() string { return filepath.Join(l.Bin(), "containerd") }

// LayOut puts bins into dir, as hard links or copies: the cache drops an
// entry when a newer build of the same binary lands (another test's,
// after a source change), and the shims started later need the file
// where it was.
func LayOut(dir string, bins ctrdbuild.Binaries) (Layout, error) {
	l := Layout{Dir: dir}
	files := map[string]string{
		l.Containerd(): bins.Containerd,
		filepath.Join(l.Bin(), "containerd-shim-runc-v2"): bins.Containerd,
		filepath.Join(l.Bin(), "edgegate-ctr"):            bins.Containerd,
		filepath.Join(l.Bin(), "runc"):                    bins.Runc,
	}
	for name, file := range bins.Plugins {
		files[filepath.Join(l.CNIBin(), name)] = file
	}
	for dst, src := range files {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return Layout{}, fmt.Errorf("laying out the runtime: %w", err)
		}
		if err := linkOrCopy(src, dst); err != nil {
			return Layout{}, fmt.Errorf("laying out the runtime: %w", err)
		}
	}
	return l, nil
}

// linkOrCopy makes dst a hard link to src, or an executable copy where
// the two are on different filesystems. It never writes to a file that is
// already there: that could be the cache's own, through a link.
func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	_, err = out.Write(data)
	return errors.Join(err, out.Close())
}
