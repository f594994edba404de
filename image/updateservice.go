package image

import (
	"context"
	"fmt"
	"net"
	"path"
	"strconv"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/update"
)

// updateBin is where the update service lives in the image.
const updateBin = "/usr/bin/edgegate-update"

// updateServiceName is the service's name in init's config.
const updateServiceName = "update"

func (o Options) updatePort() int {
	if o.UpdatePort == 0 {
		return update.DefaultPort
	}
	return o.UpdatePort
}

// addUpdateService compiles the update service for the board and adds it
// with the operator keys it admits, when the image has any.
func (o Options) addUpdateService(ctx context.Context, root *initramfs.Archive) error {
	if len(o.UpdateClients) == 0 {
		return nil
	}
	if p := o.UpdatePort; p < 0 || p > 65535 {
		return fmt.Errorf("update port %d: outside 1..65535", p)
	}
	clients, ids, err := keysFile("update client", o.UpdateClients)
	if err != nil {
		return err
	}
	o.Progress("compiling edgegate-update for %s (clients %v, port %d)", o.Board.Arch, ids, o.updatePort())
	bin, err := o.compile(ctx, "./cmd/edgegate-update", "-s -w")
	if err != nil {
		return err
	}
	for _, d := range []string{path.Dir(updateBin), path.Dir(update.ClientsPath)} {
		if err := mkdirs(root, d); err != nil {
			return err
		}
	}
	if err := root.File(updateBin, bin, 0o755); err != nil {
		return err
	}
	return root.File(update.ClientsPath, clients, 0o644)
}

// withUpdateService adds the update service and its port to the device
// config raw, when the image carries the service. A config that names a
// service `update` itself is refused rather than silently replaced.
func (o Options) withUpdateService(raw []byte) ([]byte, error) {
	if len(o.UpdateClients) == 0 {
		return raw, nil
	}
	c, err := CheckConfig(raw)
	if err != nil {
		return nil, err
	}
	for i, s := range c.Services {
		if s.Name == updateServiceName {
			return nil, fmt.Errorf("config: services[%d]: the name %q is the update service's, which the build adds for --ota-client", i, s.Name)
		}
	}
	c.Services = append(c.Services, updateService(o.updatePort()))
	open := config.InputPort{Port: o.updatePort(), Protocol: config.ProtocolTCP}
	opened := false
	for _, p := range c.Firewall.AllowInput {
		opened = opened || p == open
	}
	if !opened {
		c.Firewall.AllowInput = append(c.Firewall.AllowInput, open)
	}
	out, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("config with the update service: %w", err)
	}
	return out, nil
}

// updateService runs the update service under init. It depends on
// nothing: an update must be possible with containerd or edgecore
// broken. Healthy while it accepts connections; a trial slot whose update
// service does not come up is not committed.
func updateService(port int) config.Service {
	return config.Service{
		Name: updateServiceName,
		Path: updateBin,
		Args: []string{"--listen", ":" + strconv.Itoa(port)},
		Health: config.HealthCheck{
			Kind:             config.HealthTCP,
			Address:          net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			Interval:         config.Duration(10 * time.Second),
			StartInterval:    config.Duration(250 * time.Millisecond),
			Timeout:          config.Duration(3 * time.Second),
			FailureThreshold: 3,
		},
		Restart:     config.RestartAlways,
		GracePeriod: config.Duration(10 * time.Second),
	}
}
