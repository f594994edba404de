package image

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Module is the Go module path of edgegate, whose cmd/init the builder
// compiles.
const Module = "github.com/edgegate/edgegate"

// initBinary returns the init executable for the board: the prebuilt one
// if given, else compiled from the source tree for the board's arch.
func (o Options) initBinary(ctx context.Context) ([]byte, error) {
	if o.Init != "" {
		b, err := os.ReadFile(o.Init)
		if err != nil {
			return nil, fmt.Errorf("init binary: %w", err)
		}
		return b, nil
	}
	o.Progress("compiling init for %s", o.Board.Arch)
	return o.compile(ctx, "./cmd/init", "-s -w")
}

// compile cross-builds the main package pkg of the source tree for the
// board's architecture: static (CGO off), -trimpath, no VCS stamp, so the
// same tree gives the same bytes.
// BuildTags are the tags the gateway's Go programs are built with:
// grpcnotrace keeps gRPC from linking golang.org/x/net/trace, whose
// templates stop the linker from dropping unused methods (edgecore grows
// by about 4 MiB with it).
const BuildTags = "grpcnotrace"

func (o Options) compile(ctx context.Context, pkg, ldflags string) ([]byte, error) {
	src := o.Source
	if src == "" {
		var err error
		if src, err = FindSource("."); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "edgegate-build-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, path.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", "-tags", BuildTags, "-ldflags="+ldflags, "-o", out, pkg)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux",
		"GOARCH="+o.Board.Arch.GOARCH(), "GOARM="+o.Board.Arch.GOARM())
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compiling %s: %w: %s", pkg, err, strings.TrimSpace(string(b)))
	}
	return os.ReadFile(out)
}

// FindSource walks up from dir to the root of the edgegate module.
func FindSource(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if modulePath(filepath.Join(d, "go.mod")) == Module {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no %s source tree at or above %s (use --init or --source)", Module, abs)
		}
	}
}

func modulePath(gomod string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}
