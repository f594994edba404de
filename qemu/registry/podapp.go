package registry

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/edgegate/edgegate/image"
)

// PodappPackage is the test payload's main package, relative to the root
// of the source tree.
const PodappPackage = "./qemu/testdata/podapp"

// BuildPodapp returns podapp compiled for linux/goarch (goarm: the ARM
// version for goarch "arm", else ""), static and stripped. Each platform is
// compiled once per test binary.
func BuildPodapp(t testing.TB, goarch, goarm string) []byte {
	t.Helper()
	b := podappBuilds.get(goarch + "/" + goarm)
	b.once.Do(func() { b.bin, b.err = compilePodapp(t.Context(), t.TempDir(), goarch, goarm) })
	if b.err != nil {
		t.Fatalf("building podapp for linux/%s %s: %v", goarch, goarm, b.err)
	}
	return b.bin
}

// podappBuilds caches the builds for the life of the test binary: every
// QEMU test wants the same few binaries, and a cross-compile takes seconds.
// It is the package's only shared state, and it only grows.
var podappBuilds = buildCache{builds: map[string]*build{}}

type buildCache struct {
	mu     sync.Mutex
	builds map[string]*build
}

// build is one platform's compile, done by the first test asking for it
// while others asking at the same time wait for its result.
type build struct {
	once sync.Once
	bin  []byte
	err  error
}

func (c *buildCache) get(key string) *build {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.builds[key]
	if !ok {
		b = &build{}
		c.builds[key] = b
	}
	return b
}

// compilePodapp builds the way the gateway's own binaries are built
// (static, -trimpath, no VCS stamp), into dir.
func compilePodapp(ctx context.Context, dir, goarch, goarm string) ([]byte, error) {
	src, err := image.FindSource(".")
	if err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "podapp")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, PodappPackage)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s: %w: %s", PodappPackage, err, strings.TrimSpace(string(msg)))
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("reading the podapp build: %w", err)
	}
	return bin, nil
}
