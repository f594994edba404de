package containerd

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Credentials answer a registry host's user and secret.
type Credentials interface {
	Lookup(host string) (user, secret string, err error)
}

// Keyring is the credentials of a pod's imagePullSecrets, in order: the
// first entry whose registry matches the host wins, as the kubelet's
// keyring tries secrets in the pod's order.
type Keyring []RegistryAuth

// RegistryAuth is one registry's entry of a docker config.
type RegistryAuth struct {
	Host     string // "registry.example:5000", "docker.io"
	User     string
	Password string
}

// Lookup implements Credentials; no match is anonymous, not an error.
func (k Keyring) Lookup(host string) (string, string, error) {
	h := canonicalHost(host)
	for _, a := range k {
		if canonicalHost(a.Host) == h {
			return a.User, a.Password, nil
		}
	}
	return "", "", nil
}

// dockerConfig is the content of a kubernetes.io/dockerconfigjson secret
// (".dockerconfigjson": {"auths": {...}}) or, without the "auths" level,
// of the legacy kubernetes.io/dockercfg (".dockercfg").
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"` // base64 "user:password"
}

// Secret types and keys of image pull secrets (core/v1).
const (
	SecretTypeDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	SecretTypeDockercfg        = "kubernetes.io/dockercfg"
	DockerConfigJSONKey        = ".dockerconfigjson"
	DockercfgKey               = ".dockercfg"
)

// ParsePullSecret reads an image pull secret's data. name is for errors.
func ParsePullSecret(name, secretType string, data map[string][]byte) (Keyring, error) {
	var auths map[string]dockerAuth
	switch {
	case secretType == SecretTypeDockerConfigJSON || data[DockerConfigJSONKey] != nil:
		var cfg dockerConfig
		if err := json.Unmarshal(data[DockerConfigJSONKey], &cfg); err != nil {
			return nil, fmt.Errorf("pull secret %s: %s: %w", name, DockerConfigJSONKey, err)
		}
		auths = cfg.Auths
	case secretType == SecretTypeDockercfg || data[DockercfgKey] != nil:
		if err := json.Unmarshal(data[DockercfgKey], &auths); err != nil {
			return nil, fmt.Errorf("pull secret %s: %s: %w", name, DockercfgKey, err)
		}
	default:
		return nil, fmt.Errorf("pull secret %s: type %q is not an image pull secret", name, secretType)
	}
	var k Keyring
	for registry, a := range auths {
		user, pass := a.Username, a.Password
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("pull secret %s: registry %s: auth is not base64: %w", name, registry, err)
			}
			u, p, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("pull secret %s: registry %s: auth is not user:password", name, registry)
			}
			user, pass = u, p
		}
		k = append(k, RegistryAuth{Host: registryHost(registry), User: user, Password: pass})
	}
	return k, nil
}

// registryHost reduces a docker config key ("https://index.docker.io/v1/",
// "registry.example:5000/team") to its host.
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ := strings.Cut(key, "/")
	return host
}

// canonicalHost maps Docker Hub's many names to one.
func canonicalHost(h string) string {
	switch h = strings.ToLower(h); h {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return h
}
