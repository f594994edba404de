package volume

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// keyed is the data of a configmap or secret, by key, with what names the
// object in errors.
type keyed struct {
	what string // e.g. "configmap default/app"
	data map[string][]byte
}

// configMap fetches a configmap for a volume or projection. A missing
// optional configmap is empty; any other failure is an error.
func (s setup) configMap(name string, optional bool) (keyed, error) {
	what := fmt.Sprintf("configmap %s/%s", s.pod.Namespace, name)
	if s.src == nil {
		return keyed{}, fmt.Errorf("%s: no source of configmaps and secrets", what)
	}
	cm, err := s.src.ConfigMap(s.pod.Namespace, name)
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return keyed{what: what}, nil
		}
		return keyed{}, fmt.Errorf("%s: %w", what, err)
	}
	// Keys are unique across data and binaryData (API validation); were
	// they not, binaryData would win, as in kubelet.
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyed{what: what, data: data}, nil
}

// secret fetches a secret like configMap does. Only data counts: stringData
// is write-only and never comes back from the apiserver.
func (s setup) secret(name string, optional bool) (keyed, error) {
	what := fmt.Sprintf("secret %s/%s", s.pod.Namespace, name)
	if s.src == nil {
		return keyed{}, fmt.Errorf("%s: no source of configmaps and secrets", what)
	}
	sec, err := s.src.Secret(s.pod.Namespace, name)
	if err != nil {
		if optional && apierrors.IsNotFound(err) {
			return keyed{what: what}, nil
		}
		return keyed{}, fmt.Errorf("%s: %w", what, err)
	}
	return keyed{what: what, data: sec.Data}, nil
}

// project makes the files of a configmap or secret: every key under its own
// name with defaultMode, or, when items are given, only those keys under
// their paths and modes. A missing key is skipped when optional, else an
// error naming the object and the key.
func (k keyed) project(items []v1.KeyToPath, defaultMode *int32, optional bool) (payload, error) {
	p := make(payload)
	if len(items) == 0 {
		mode, err := modeOrDefault(nil, defaultMode)
		if err != nil {
			return nil, fmt.Errorf("%s: defaultMode: %w", k.what, err)
		}
		for key, data := range k.data {
			if err := p.add(key, file{data: data, mode: mode}); err != nil {
				return nil, fmt.Errorf("%s: key %s: %w", k.what, key, err)
			}
		}
		return p, nil
	}
	for _, item := range items {
		data, ok := k.data[item.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s has no key %q", k.what, item.Key)
		}
		mode, err := modeOrDefault(item.Mode, defaultMode)
		if err != nil {
			return nil, fmt.Errorf("%s: item %s: %w", k.what, item.Key, err)
		}
		if err := p.add(item.Path, file{data: data, mode: mode}); err != nil {
			return nil, fmt.Errorf("%s: item %s: %w", k.what, item.Key, err)
		}
	}
	return p, nil
}

func (s setup) configMapVolume(src *v1.ConfigMapVolumeSource) (payload, error) {
	optional := src.Optional != nil && *src.Optional
	k, err := s.configMap(src.Name, optional)
	if err != nil {
		return nil, err
	}
	return k.project(src.Items, src.DefaultMode, optional)
}

func (s setup) secretVolume(src *v1.SecretVolumeSource) (payload, error) {
	optional := src.Optional != nil && *src.Optional
	k, err := s.secret(src.SecretName, optional)
	if err != nil {
		return nil, err
	}
	return k.project(src.Items, src.DefaultMode, optional)
}
