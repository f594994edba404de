package hostrt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/edgegate/edgegate/edgecore/internal/hostctrd"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/qemu/registry"
)

// podappTimeout bounds the test payload's build.
const podappTimeout = 10 * time.Minute

// prepare builds (or takes from the cache shared with image builds) the
// runtime for this machine and the test payload, and lays them out in a
// new work directory: the runtime as hostctrd lays it out, podapp the
// payload. It runs before the namespaces: the build may need the module
// proxy. An error wrapping hostctrd.ErrMissing means the machine cannot
// build the runtime.
func prepare() (string, error) {
	bins, err := hostctrd.Build()
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "edged-hostrt-")
	if err != nil {
		return "", err
	}
	_, err = hostctrd.LayOut(work, bins)
	if err == nil {
		err = buildPodapp(hostFor(work).podapp())
	}
	if err != nil {
		os.RemoveAll(work)
		return "", err
	}
	return work, nil
}

// buildPodapp compiles the pod tests' payload for this machine, the way
// qemu/registry builds it for a guest (static, stripped, -trimpath).
func buildPodapp(out string) error {
	src, err := image.FindSource(".")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), podappTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, registry.PodappPackage)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w: %s", registry.PodappPackage, err, strings.TrimSpace(string(msg)))
	}
	return nil
}
