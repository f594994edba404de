package volume

import (
	"errors"
	"fmt"
	"reflect"

	v1 "k8s.io/api/core/v1"
)

// projectedVolume merges the files of the volume's sources in order (a later
// source's file replaces an earlier one at the same path), each source
// falling back to the volume's defaultMode. All sources are tried so that the
// error lists every problem. This covers the kube-api-access-* volume the
// API server's ServiceAccount admission adds to every pod that does not opt
// out (automountServiceAccountToken: false): a token, the cluster CA from
// the kube-root-ca.crt configmap and the namespace.
func (s setup) projectedVolume(src *v1.ProjectedVolumeSource) (payload, error) {
	p := make(payload)
	var errs []error
	for i := range src.Sources {
		sp, err := s.projection(&src.Sources[i], src.DefaultMode)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.merge(sp)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (s setup) projection(src *v1.VolumeProjection, defaultMode *int32) (payload, error) {
	switch {
	case src.ConfigMap != nil:
		optional := src.ConfigMap.Optional != nil && *src.ConfigMap.Optional
		k, err := s.configMap(src.ConfigMap.Name, optional)
		if err != nil {
			return nil, err
		}
		return k.project(src.ConfigMap.Items, defaultMode, optional)
	case src.Secret != nil:
		optional := src.Secret.Optional != nil && *src.Secret.Optional
		k, err := s.secret(src.Secret.Name, optional)
		if err != nil {
			return nil, err
		}
		return k.project(src.Secret.Items, defaultMode, optional)
	case src.DownwardAPI != nil:
		return s.downwardItems(src.DownwardAPI.Items, defaultMode)
	case src.ServiceAccountToken != nil:
		return s.serviceAccountToken(src.ServiceAccountToken, defaultMode)
	}
	kind := setField(reflect.ValueOf(*src))
	if kind == "" {
		return nil, errors.New("projected source without a type")
	}
	return nil, fmt.Errorf("projected source %s is not supported on this node", kind)
}
