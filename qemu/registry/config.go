package registry

import (
	"crypto/rand"
	"fmt"
	"os"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// writeConfig writes the registry's configuration to file: storage in
// storageDir, listening on addr, basic auth against htpasswd when that is
// not empty. Everything the registry needs is in it, so neither
// /etc/docker/registry nor a systemd unit is involved.
func writeConfig(file, storageDir, addr, htpasswd string) error {
	cfg := map[string]any{
		"version": "0.1",
		"log": map[string]any{
			"level":     "info",
			"formatter": "text",
		},
		"storage": map[string]any{
			"filesystem": map[string]any{"rootdirectory": storageDir},
			"delete":     map[string]any{"enabled": true},
			// No background sweeps over a store that lives for one test.
			"maintenance": map[string]any{"uploadpurging": map[string]any{"enabled": false}},
		},
		"http": map[string]any{
			"addr": addr,
			// Signs upload state; without one the registry makes up its
			// own and warns about it.
			"secret": rand.Text(),
		},
		"health": map[string]any{"storagedriver": map[string]any{"enabled": false}},
	}
	if htpasswd != "" {
		cfg["auth"] = map[string]any{"htpasswd": map[string]any{"realm": "edgegate-test", "path": htpasswd}}
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding registry config: %w", err)
	}
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return fmt.Errorf("writing registry config: %w", err)
	}
	return nil
}

// writeHtpasswd writes the htpasswd file of a single user. The registry
// accepts bcrypt hashes only; the minimum cost keeps test start-up fast.
func writeHtpasswd(file, user, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("hashing the password of registry user %q: %w", user, err)
	}
	if err := os.WriteFile(file, fmt.Appendf(nil, "%s:%s\n", user, hash), 0o600); err != nil {
		return fmt.Errorf("writing htpasswd: %w", err)
	}
	return nil
}
