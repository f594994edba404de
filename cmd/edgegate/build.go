package main

import (
	"context"
	"fmt"
	"os"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/update"
)

func runBuild(ctx context.Context, args []string) error {
	fs := flagSet("build")
	board := fs.String("board", "qemu-arm64", "board to build for (see 'edgegate boards')")
	out := fs.StringP("output", "o", "", "image file to write (required)")
	cache := fs.String("cache", defaultCache(), "directory for downloaded packages")
	initBin := fs.String("init", "", "prebuilt init binary (default: compile cmd/init from the source tree)")
	source := fs.String("source", "", "edgegate source tree (default: found from the current directory)")
	ver := fs.String("version", version, "version recorded in the image")
	epoch := fs.Int64("epoch", image.DefaultEpoch, "timestamp (Unix seconds) written into the image")
	cfgFile := fs.String("config", "", "device config (YAML, see init/config); default: DHCP on the board's interface, containerd and edgecore as services (each left out with --containerd=false / --edgecore=false)")
	withCtrd := fs.Bool("containerd", true, "include the container runtime (containerd, runc, CNI plugins)")
	withEdgecore := fs.Bool("edgecore", true, "include the edge agent (edgecore) and its configuration")
	edgecoreCfg := fs.String("edgecore-config", "", "EdgeCore configuration (edgecore.config.kubeedge.io/v1alpha2 YAML) for /etc/kubeedge/config/edgecore.yaml; default: edgecore's defaults with store and certificates under /var/lib/kubeedge and edgehub off")
	adds := fs.StringArray("add", nil, "add a host file to the image as SRC:DST (repeatable), e.g. a service executable")
	otaKeys := fs.StringArray("ota-key", nil, "public key file ('edgegate ota keygen') the gateway accepts update bundles from (repeatable); without one it accepts none")
	otaClients := fs.StringArray("ota-client", nil, "public key file ('edgegate ota keygen') of an operator allowed to push updates (repeatable); with one, the image runs the update service")
	otaPort := fs.Int("ota-port", update.DefaultPort, "port of the update service (with --ota-client)")
	buildNum := fs.Uint64("build-number", 0, "monotonic build number recorded in the image, which updates are ordered by (default: the --epoch value)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("no output file: pass -o FILE.img")
	}
	b, err := boards.Lookup(*board)
	if err != nil {
		return err
	}
	var cfg []byte
	if *cfgFile != "" {
		if cfg, err = os.ReadFile(*cfgFile); err != nil {
			return fmt.Errorf("--config: %w", err)
		}
		// Fail at once, not after the packages are fetched.
		if _, err := image.CheckConfig(cfg); err != nil {
			return fmt.Errorf("%s: %w", *cfgFile, err)
		}
	}
	var ecCfg []byte
	if *edgecoreCfg != "" && !*withEdgecore {
		return fmt.Errorf("--edgecore-config %s: the image carries no edgecore (--edgecore=false)", *edgecoreCfg)
	}
	if *edgecoreCfg != "" {
		if ecCfg, err = os.ReadFile(*edgecoreCfg); err != nil {
			return fmt.Errorf("--edgecore-config: %w", err)
		}
		if err := image.CheckEdgecoreConfig(ecCfg); err != nil {
			return fmt.Errorf("%s: %w", *edgecoreCfg, err)
		}
	}
	var extra []image.ExtraFile
	for _, a := range *adds {
		f, err := image.ParseAdd(a)
		if err != nil {
			return err
		}
		extra = append(extra, f)
	}
	var updateKeys [][]byte
	for _, k := range *otaKeys {
		data, err := os.ReadFile(k)
		if err != nil {
			return fmt.Errorf("--ota-key: %w", err)
		}
		// Fail at once, not after the packages are fetched.
		if _, err := bundle.ParsePublicKey(data); err != nil {
			return fmt.Errorf("--ota-key %s: %w", k, err)
		}
		updateKeys = append(updateKeys, data)
	}
	updateClients, err := readPublicKeys("--ota-client", *otaClients)
	if err != nil {
		return err
	}
	if *otaPort < 1 || *otaPort > 65535 {
		return fmt.Errorf("--ota-port %d: outside 1..65535", *otaPort)
	}
	res, err := image.Build(ctx, image.Options{
		Board: b, Version: *ver, Output: *out, Cache: newCache(*cache),
		Init: *initBin, Source: *source, Epoch: *epoch, Config: cfg, Extra: extra, Containerd: *withCtrd,
		Edgecore: *withEdgecore, EdgecoreConfig: ecCfg, UpdateKeys: updateKeys, BuildNumber: *buildNum,
		UpdateClients: updateClients, UpdatePort: *otaPort,
		Progress: func(format string, a ...any) { klog.Infof(format, a...) },
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s: board %s, %d MiB, initramfs %d bytes (init %d, %d modules), kernel %d bytes\nsha256 %s\n",
		res.Output, b.Name, res.ImageSize>>20, res.InitramfsSize, res.InitSize, res.Modules, res.KernelSize, res.SHA256)
	return nil
}

// readPublicKeys reads public key files given to flag, checking each at
// once rather than after the packages are fetched.
func readPublicKeys(flag string, files []string) ([][]byte, error) {
	var keys [][]byte
	for _, k := range files {
		data, err := os.ReadFile(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if _, err := bundle.ParsePublicKey(data); err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, k, err)
		}
		keys = append(keys, data)
	}
	return keys, nil
}
