package volume

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// The volume the apiserver's ServiceAccount admission adds to every pod
// (unless automountServiceAccountToken is false): a token, the cluster CA
// from the kube-root-ca.crt configmap and the namespace.
const (
	kubeAPIAccessPrefix = "kube-api-access-"
	rootCAConfigMap     = "kube-root-ca.crt"
)

// projectedVolume merges the files of the volume's sources in order (a later
// source's file replaces an earlier one at the same path), each source
// falling back to the volume's defaultMode. All sources are tried so that the
// error lists every problem.
//
// serviceAccountToken is not supported: the edge has no issuer for bound
// service account tokens (KubeEdge gets them through MetaServer, which is not
// implemented here). So that every pod does not fail for its default
// kube-api-access-* volume, that one volume gets its ca.crt and namespace
// files and no token file; a client in the pod then fails to authenticate
// rather than the pod failing to start. Any other token source is an error.
func (s setup) projectedVolume(name string, src *v1.ProjectedVolumeSource) (payload, error) {
	skipToken := isKubeAPIAccess(name, src)
	p := make(payload)
	var errs []error
	for i := range src.Sources {
		sp, err := s.projection(&src.Sources[i], src.DefaultMode, skipToken)
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

func (s setup) projection(src *v1.VolumeProjection, defaultMode *int32, skipToken bool) (payload, error) {
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
	case src.ServiceAccountToken != nil && skipToken:
		return nil, nil
	}
	kind := setField(reflect.ValueOf(*src))
	if kind == "" {
		return nil, errors.New("projected source without a type")
	}
	return nil, fmt.Errorf("projected source %s is not supported on this node", kind)
}

// isKubeAPIAccess recognises the ServiceAccount admission's volume by its
// name and its three sources, in any order: one serviceAccountToken, the
// kube-root-ca.crt configmap and a downwardAPI.
func isKubeAPIAccess(name string, src *v1.ProjectedVolumeSource) bool {
	if !strings.HasPrefix(name, kubeAPIAccessPrefix) || len(src.Sources) != 3 {
		return false
	}
	var token, ca, downward int
	for _, s := range src.Sources {
		switch {
		case s.ServiceAccountToken != nil:
			token++
		case s.ConfigMap != nil && s.ConfigMap.Name == rootCAConfigMap:
			ca++
		case s.DownwardAPI != nil:
			downward++
		}
	}
	return token == 1 && ca == 1 && downward == 1
}
