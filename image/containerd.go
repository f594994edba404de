package image

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/image/ctrdbuild"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/containerd"
)

// Where the container runtime lives in the image. The multi-call binary
// serves every containerd role by the name it is run under (see
// cmd/edgegate-containerd); containerd finds the shim and runc by PATH.
const (
	containerdBin = "/usr/bin/edgegate-containerd"
	runcBin       = "/usr/bin/runc"
	cniBinDir     = "/usr/libexec/cni"
)

var containerdLinks = []string{"/usr/bin/containerd", "/usr/bin/containerd-shim-runc-v2", "/usr/bin/edgegate-ctr"}

// addContainerd builds (or takes from the cache) the container runtime for
// the board's architecture and adds it to the root image.
func (o Options) addContainerd(ctx context.Context, arc *initramfs.Archive) error {
	if !o.Containerd {
		return nil
	}
	src := o.Source
	if src == "" {
		var err error
		if src, err = FindSource("."); err != nil {
			return err
		}
	}
	b := ctrdbuild.Builder{Cache: filepath.Join(o.Cache.Dir, "runtime"), Source: src, Progress: o.Progress}
	bins, err := b.Build(ctx, o.Board.Arch)
	if err != nil {
		return err
	}
	for _, d := range []string{"/usr/bin", cniBinDir} {
		if err := mkdirs(arc, d); err != nil {
			return err
		}
	}
	if err := arc.CopyFile(containerdBin, bins.Containerd); err != nil {
		return err
	}
	for _, l := range containerdLinks {
		if err := arc.Symlink(l, path.Base(containerdBin)); err != nil {
			return err
		}
	}
	if err := arc.CopyFile(runcBin, bins.Runc); err != nil {
		return err
	}
	names := make([]string, 0, len(bins.Plugins))
	for n := range bins.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := arc.CopyFile(path.Join(cniBinDir, n), bins.Plugins[n]); err != nil {
			return err
		}
	}
	return nil
}

// defaultConfig is DefaultConfig, plus containerd and edgecore as
// supervised services when the image carries them.
func (o Options) defaultConfig() ([]byte, error) {
	raw, err := DefaultConfig(o.Board)
	if err != nil || !o.Containerd && !o.Edgecore {
		return raw, err
	}
	c, err := CheckConfig(raw)
	if err != nil {
		return nil, err
	}
	if o.Containerd {
		c.Services = append(c.Services, containerd.Service())
	}
	if o.Edgecore {
		c.Services = append(c.Services, edgecoreService(o.Containerd))
	}
	if raw, err = yaml.Marshal(c); err != nil {
		return nil, fmt.Errorf("default config: %w", err)
	}
	return raw, nil
}
