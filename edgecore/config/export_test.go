package config

import "sigs.k8s.io/yaml"

func unmarshalForTest(b []byte, v any) error { return yaml.Unmarshal(b, v) }
