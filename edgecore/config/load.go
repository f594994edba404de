package config

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Load reads the file at path over the defaults (fields the file leaves out
// keep their default) and validates the result. Fields of KubeEdge's schema
// that edgegate does not use are accepted and listed in IgnoredFields;
// other unknown fields and duplicate keys are errors.
func Load(path string) (*EdgeCoreConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes and validates a configuration document.
func Parse(data []byte) (*EdgeCoreConfig, error) {
	cfg := NewDefault()
	ignored, err := decode(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	cfg.IgnoredFields = ignored
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Marshal returns cfg as YAML.
func Marshal(cfg *EdgeCoreConfig) ([]byte, error) {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return b, nil
}

// NodeName is the node's name: hostnameOverride, or the host name.
func (c *EdgeCoreConfig) NodeName() string {
	if e := c.Modules.Edged; e != nil && e.HostnameOverride != "" {
		return e.HostnameOverride
	}
	return Hostname()
}
