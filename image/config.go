package image

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/config"
)

// ExtraFile is a file added to the root image as it is, e.g. a service's
// executable named by the config.
type ExtraFile struct {
	Path string // absolute path in the image
	Data []byte
	Mode os.FileMode
}

// DefaultConfig is the config an image carries when none is given: DHCP
// on the board's network interface, hostname "edgegate", no services.
func DefaultConfig(b boards.Board) ([]byte, error) {
	c := config.Default()
	if b.Net != "" {
		c.Network.Interface = b.Net
	}
	raw, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("default config: %w", err)
	}
	return raw, nil
}

// CheckConfig validates raw as the device will at boot. The error names
// each wrong field, e.g. "config: services[0].path: ...".
func CheckConfig(raw []byte) (*config.Config, error) {
	c, err := config.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// addSystemFiles puts the config and the extra files into the root image.
// A config that does not validate fails the build: a broken file must
// never reach a device. Each service executable must be in the image.
func (o Options) addSystemFiles(arc *initramfs.Archive) error {
	raw := o.Config
	if raw == nil {
		var err error
		if raw, err = o.defaultConfig(); err != nil {
			return err
		}
	}
	raw, err := o.withUpdateService(raw)
	if err != nil {
		return err
	}
	cfg, err := CheckConfig(raw)
	if err != nil {
		return err
	}
	for _, f := range sortedExtra(o.Extra) {
		if !path.IsAbs(f.Path) {
			return fmt.Errorf("extra file %q: path in the image must be absolute", f.Path)
		}
		if err := mkdirs(arc, path.Dir(f.Path)); err != nil {
			return err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := arc.File(f.Path, f.Data, mode); err != nil {
			return fmt.Errorf("extra file %s: %w", f.Path, err)
		}
	}
	for i, s := range cfg.Services {
		if !arc.Has(s.Path) {
			return fmt.Errorf("config: services[%d].path: %s is not in the image (add it with --add)", i, s.Path)
		}
	}
	if err := mkdirs(arc, path.Dir(config.ImagePath)); err != nil {
		return err
	}
	o.Progress("config: hostname %s, network %s on %s, %d services", cfg.Hostname, cfg.Network.Mode, cfg.Network.Interface, len(cfg.Services))
	return arc.File(config.ImagePath, raw, 0o644)
}

// mkdirs adds dir and its parents to the archive.
func mkdirs(arc *initramfs.Archive, dir string) error {
	var parts []string
	for d := path.Clean(dir); d != "/" && d != "."; d = path.Dir(d) {
		parts = append(parts, d)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		if arc.Has(parts[i]) {
			continue
		}
		if err := arc.Dir(parts[i], 0o755); err != nil {
			return err
		}
	}
	return nil
}

func sortedExtra(files []ExtraFile) []ExtraFile {
	s := append([]ExtraFile(nil), files...)
	sort.Slice(s, func(i, j int) bool { return s[i].Path < s[j].Path })
	return s
}

// ParseAdd reads a --add argument "SRC:DST" (host file, absolute path in
// the image) into an ExtraFile, keeping the host file's permission bits.
func ParseAdd(arg string) (ExtraFile, error) {
	src, dst, ok := strings.Cut(arg, ":")
	if !ok || src == "" || dst == "" {
		return ExtraFile{}, fmt.Errorf("--add %q: want SRC:DST", arg)
	}
	if !path.IsAbs(dst) {
		return ExtraFile{}, fmt.Errorf("--add %q: %s must be an absolute path in the image", arg, dst)
	}
	st, err := os.Stat(src)
	if err != nil {
		return ExtraFile{}, fmt.Errorf("--add: %w", err)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return ExtraFile{}, fmt.Errorf("--add: %w", err)
	}
	return ExtraFile{Path: dst, Data: data, Mode: st.Mode().Perm()}, nil
}
