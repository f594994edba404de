package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// DefaultBootstrapFile is where `keadm join` may leave the join token
// instead of writing it into modules.edgeHub.token. Its whole content is
// the token; when present it overrides the config file's token.
const DefaultBootstrapFile = "/etc/kubeedge/bootstrap-edgecore.conf"

// ApplyBootstrapFile reads the join token from the bootstrap file at path
// into modules.edgeHub.token. A missing or empty file changes nothing and
// reports false.
func (c *EdgeCoreConfig) ApplyBootstrapFile(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("bootstrap token: %w", err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return false, nil
	}
	if strings.ContainsAny(token, " \t\r\n") {
		return false, fmt.Errorf("bootstrap token: %s holds more than one line or word; want the token alone", path)
	}
	if c.Modules == nil {
		c.Modules = &Modules{}
	}
	if c.Modules.EdgeHub == nil {
		c.Modules.EdgeHub = &EdgeHub{}
	}
	c.Modules.EdgeHub.Token = token
	return true, nil
}
