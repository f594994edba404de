package image

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	edgecoreconfig "github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/config"
)

// Where edgecore lives in the image. Its configuration is read from the
// initramfs, so a new image (a slot update) brings a new configuration
// and nothing on the device can drift from what was built. What edgecore
// writes back into it at run time (edgecoreVersion, a cleared join token)
// lands in RAM and is gone at the next boot; that is harmless because
// everything edgecore must keep lives on the data partition (/var): the
// store, the certificates bought with the token (once they are stored the
// token is never used again), and the bootstrap token file an operator
// may drop there, which edgecore removes after use.
const (
	edgecoreBin           = "/usr/bin/edgecore"
	edgecoreConfigPath    = "/etc/kubeedge/config/edgecore.yaml"
	edgecoreBootstrapFile = "/var/lib/kubeedge/bootstrap-edgecore.conf"
	// The inspect socket sits directly in /run: init mounts /run empty
	// and edgecore does not create the socket's directory.
	edgecoreInspectSocket = "/run/edgecore-inspect.sock"
	edgecoreStateDir      = "/var/lib/kubeedge"
)

// addEdgecore compiles edgecore for the board's architecture, stamped with
// the image's version, and adds it with its configuration.
func (o Options) addEdgecore(ctx context.Context, arc *initramfs.Archive) error {
	if !o.Edgecore {
		return nil
	}
	raw := o.EdgecoreConfig
	if raw == nil {
		var err error
		if raw, err = DefaultEdgecoreConfig(); err != nil {
			return err
		}
	}
	if err := CheckEdgecoreConfig(raw); err != nil {
		return err
	}
	o.Progress("compiling edgecore for %s", o.Board.Arch)
	bin, err := o.compile(ctx, "./cmd/edgecore", "-s -w -X main.version="+o.Version)
	if err != nil {
		return err
	}
	for _, d := range []string{path.Dir(edgecoreBin), path.Dir(edgecoreConfigPath)} {
		if err := mkdirs(arc, d); err != nil {
			return err
		}
	}
	if err := arc.File(edgecoreBin, bin, 0o755); err != nil {
		return err
	}
	return arc.File(edgecoreConfigPath, raw, 0o644)
}

// DefaultEdgecoreConfig is edgecore's default configuration made fit for
// the appliance: store and certificates on the data partition, the node
// named by the device's host name at run time (not the build host's), and
// edgehub off. Without a cloud to talk to, edgehub would only retry a
// certificate request to an address nobody configured, logging a failure
// each time; off, edgecore says so once at start and keeps the local
// store and bus running. A gateway joins a cloud through --edgecore-config.
func DefaultEdgecoreConfig() ([]byte, error) {
	c := edgecoreconfig.NewDefault()
	c.Database.DataSource = path.Join(edgecoreStateDir, "edgecore.db")
	c.Modules.Edged.TailoredKubeletFlag.HostnameOverride = ""
	h := c.Modules.EdgeHub
	h.Enable = false
	h.TLSCAFile = path.Join(edgecoreStateDir, "ca", "rootCA.crt")
	h.TLSCertFile = path.Join(edgecoreStateDir, "certs", "server.crt")
	h.TLSPrivateKeyFile = path.Join(edgecoreStateDir, "certs", "server.key")
	raw, err := edgecoreconfig.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("default edgecore config: %w", err)
	}
	return raw, nil
}

// CheckEdgecoreConfig validates raw as edgecore will at start, and adds
// the appliance's own rule: what edgecore writes must be on the data
// partition, since everything else is RAM and lost at power off. Each
// problem names its field.
func CheckEdgecoreConfig(raw []byte) error {
	c, err := edgecoreconfig.Parse(raw)
	if err != nil {
		return fmt.Errorf("edgecore config: %w", err)
	}
	var errs []error
	onData := func(field, p string) {
		if !strings.HasPrefix(path.Clean(p), "/var/") {
			errs = append(errs, &edgecoreconfig.FieldError{Field: field, Value: p,
				Reason: "must be under /var (the data partition); the rest of the root is RAM and lost at power off"})
		}
	}
	onData("database.dataSource", c.Database.DataSource)
	if h := c.Modules.EdgeHub; h != nil && h.Enable {
		onData("modules.edgeHub.tlsCaFile", h.TLSCAFile)
		onData("modules.edgeHub.tlsCertFile", h.TLSCertFile)
		onData("modules.edgeHub.tlsPrivateKeyFile", h.TLSPrivateKeyFile)
	}
	if len(errs) > 0 {
		return fmt.Errorf("edgecore config: %w", errors.Join(errs...))
	}
	return nil
}

// edgecoreService runs edgecore under init, after containerd when the
// image carries it (edged hands pods to containerd). Healthy once its
// inspect socket answers, which it opens after the store and every module
// are set up.
func edgecoreService(afterContainerd bool) config.Service {
	s := config.Service{
		Name: "edgecore",
		Path: edgecoreBin,
		Args: []string{
			"--config", edgecoreConfigPath,
			"--bootstrap-file", edgecoreBootstrapFile,
			"--inspect-socket", edgecoreInspectSocket,
		},
		Health: config.HealthCheck{
			Kind:             config.HealthUnix,
			Address:          edgecoreInspectSocket,
			Interval:         config.Duration(5 * time.Second),
			Timeout:          config.Duration(3 * time.Second),
			FailureThreshold: 3,
		},
		Restart:     config.RestartAlways,
		GracePeriod: config.Duration(15 * time.Second),
	}
	if afterContainerd {
		s.DependsOn = []string{"containerd"}
	}
	return s
}
