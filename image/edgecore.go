package image

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	edgecoreconfig "github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/edgehub/certificate"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/jointoken"
)

// Where edgecore lives in the image. Its configuration is read from the
// root image (the /etc the system keeps in RAM is a copy of the image's),
// so a new image (a slot update) brings a new configuration and nothing
// on the device can drift from what was built. What edgecore writes back
// into it at run time (edgecoreVersion) lands in RAM and is gone at the
// next boot; that is harmless because everything edgecore must keep lives
// on the data partition (/var): the store and the certificates the join
// token buys.
//
// The join token is not in that configuration: it is a secret, and the
// root image is world-readable on the running system and on the card for
// as long as the slot lives. The build takes it out of the configuration
// and puts it on the boot partition, from where init moves it to
// edgecoreBootstrapFile (0600) at the first boot and erases it (see
// init/jointoken); edgecore erases that file once the token has bought a
// certificate.
const (
	edgecoreBin           = "/usr/bin/edgecore"
	edgecoreConfigPath    = "/etc/kubeedge/config/edgecore.yaml"
	edgecoreBootstrapFile = jointoken.Path
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
	raw, err := withoutToken(raw)
	if err != nil {
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
	if err := checkToken(c.Modules.EdgeHub, time.Now()); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("edgecore config: %w", errors.Join(errs...))
	}
	return nil
}

// checkToken checks the join token's form (KubeEdge's
// "<sha256hex(CA DER)>.<JWT>") and that it has not expired, as far as the
// build can tell: a token that cannot work would only be found on the
// device. The error never shows the token.
func checkToken(h *edgecoreconfig.EdgeHub, now time.Time) error {
	if h == nil || h.Token == "" {
		return nil
	}
	bad := func(reason string) error {
		return &edgecoreconfig.FieldError{Field: "modules.edgeHub.token", Value: fmt.Sprintf("<%d characters>", len(h.Token)), Reason: reason}
	}
	if !h.Enable {
		return bad("set while modules.edgeHub.enable is false: the token would never be used")
	}
	tok, err := certificate.ParseToken(h.Token)
	if err != nil {
		return bad(err.Error() + " (want the output of keadm gettoken)")
	}
	if !tok.Expires.After(now) {
		return bad("expired at " + tok.Expires.Format(time.RFC3339) + " (keadm gettoken's tokens last 24 h; take a fresh one)")
	}
	return nil
}

// joinToken returns the token of the edgecore configuration the image
// carries, or nil. The configuration was checked by CheckEdgecoreConfig.
func (o Options) joinToken() ([]byte, error) {
	if !o.Edgecore || o.EdgecoreConfig == nil {
		return nil, nil
	}
	c, err := edgecoreconfig.Parse(o.EdgecoreConfig)
	if err != nil {
		return nil, fmt.Errorf("edgecore config: %w", err)
	}
	if c.Modules.EdgeHub == nil || c.Modules.EdgeHub.Token == "" {
		return nil, nil
	}
	return []byte(strings.TrimSpace(c.Modules.EdgeHub.Token) + "\n"), nil
}

// writeDisk writes the image to dst. An image that carries the join token
// is written inside a private directory and made 0600 before it gets its
// name, so it is never readable by others, not even while it is written.
func writeDisk(dst string, spec disk.Spec, secret bool) error {
	if !secret {
		return disk.Write(dst, spec)
	}
	dir, err := os.MkdirTemp(filepath.Dir(dst), ".edgegate-private-")
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "image")
	if err := disk.Write(p, spec); err != nil {
		return err
	}
	if err := os.Chmod(p, 0o600); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := os.Rename(p, dst); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	return nil
}

// withoutToken returns the configuration with modules.edgeHub.token
// emptied; comments and every other field are kept.
func withoutToken(raw []byte) ([]byte, error) {
	c, err := edgecoreconfig.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("edgecore config: %w", err)
	}
	if c.Modules.EdgeHub == nil || c.Modules.EdgeHub.Token == "" {
		return raw, nil
	}
	out, err := edgecoreconfig.EditFields(raw, map[string]string{"modules.edgeHub.token": ""})
	if err != nil {
		return nil, fmt.Errorf("edgecore config: taking the join token out: %w", err)
	}
	return out, nil
}

// edgecoreService runs edgecore under init, after containerd when the
// image carries it: edged waits for containerd by itself, but the pods'
// run directory must be containerd's shared mount before edged mounts a
// pod's memory-backed volumes into it. Healthy while every enabled module
// runs, as GET /healthz on its inspect socket answers: a module that died
// for good makes init restart edgecore.
func edgecoreService(afterContainerd bool) config.Service {
	s := config.Service{
		Name: "edgecore",
		Path: edgecoreBin,
		Args: []string{
			"--config", edgecoreConfigPath,
			"--bootstrap-file", edgecoreBootstrapFile,
			"--inspect-socket", edgecoreInspectSocket,
			// init sets the clock at boot (the saved time) and from NTP;
			// edgecore may move it forward to the cloud's time when the
			// cloud is ahead, at start and when it gets a certificate.
			// They do not fight: NTP, whenever it answers, has the last
			// word, and init saves whatever time is set.
			"--correct-clock",
		},
		Health: config.HealthCheck{
			Kind:     config.HealthHTTP,
			URL:      "http://edgecore/healthz",
			Address:  edgecoreInspectSocket,
			Interval: config.Duration(5 * time.Second),
			// Until its modules first run, edgecore is asked often, so
			// the boot timeline sees it healthy when it is, not at the
			// next 5 s tick; a check is one local HTTP request.
			StartInterval:    config.Duration(250 * time.Millisecond),
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
