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
	edgecoreStateDir      = edgecoreconfig.DefaultStateDir
)

// persistentLinks make KubeEdge's own default certificate directories
// (/etc/kubeedge/ca, /etc/kubeedge/certs: what upstream's --defaultconfig
// and keadm join write) lead to the data partition, so an upstream
// configuration builds as it is and its certificates survive a reboot.
var persistentLinks = map[string]string{
	"/etc/kubeedge/ca":    edgecoreStateDir + "/ca",
	"/etc/kubeedge/certs": edgecoreStateDir + "/certs",
}

// persistent reports whether what edgecore writes at p survives a reboot:
// it is on the data partition, directly or through a persistent link.
func persistent(p string) bool {
	p = path.Clean(p)
	if strings.HasPrefix(p, "/var/") {
		return true
	}
	for link := range persistentLinks {
		if strings.HasPrefix(p, link+"/") {
			return true
		}
	}
	return false
}

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
	for link, target := range persistentLinks {
		if err := arc.Symlink(link, target); err != nil {
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
	c.Modules.Edged.HostnameOverride = ""
	c.Modules.EdgeHub.Enable = false
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
		if !persistent(p) {
			errs = append(errs, &edgecoreconfig.FieldError{Field: field, Value: p,
				Reason: "must be under /var (the data partition) or /etc/kubeedge/ca or /etc/kubeedge/certs (links to it); the rest of the root is lost at power off"})
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
