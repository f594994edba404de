package podspec

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Sources resolves the configmaps and secrets a container's environment
// refers to. A missing object is an error for which apierrors.IsNotFound is
// true.
type Sources interface {
	ConfigMap(namespace, name string) (*v1.ConfigMap, error)
	Secret(namespace, name string) (*v1.Secret, error)
}

// configMapKey returns a configMapKeyRef's value, and false when the
// reference is optional and its configmap or key is missing.
func (r *envResolver) configMapKey(field string, ref *v1.ConfigMapKeySelector) (string, bool, error) {
	optional := isTrue(ref.Optional)
	cm, err := r.configMap(field, ref.Name, ref.Key, optional)
	if err != nil || cm == nil {
		return "", false, err
	}
	v, ok := cm.Data[ref.Key]
	if !ok && !optional {
		return "", false, configError(r.c.Name, field, "configmap %s/%s has no key %q", r.pod.Namespace, ref.Name, ref.Key)
	}
	return v, ok, nil
}

// secretKey is configMapKey for a secretKeyRef.
func (r *envResolver) secretKey(field string, ref *v1.SecretKeySelector) (string, bool, error) {
	optional := isTrue(ref.Optional)
	s, err := r.secret(field, ref.Name, ref.Key, optional)
	if err != nil || s == nil {
		return "", false, err
	}
	v, ok := s.Data[ref.Key]
	if !ok && !optional {
		return "", false, configError(r.c.Name, field, "secret %s/%s has no key %q", r.pod.Namespace, ref.Name, ref.Key)
	}
	return string(v), ok, nil
}

// configMap returns the named configmap, or nil without an error when it does
// not exist and the reference is optional. key only makes the error name the
// key the reference wanted.
func (r *envResolver) configMap(field, name, key string, optional bool) (*v1.ConfigMap, error) {
	if cm, ok := r.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := r.src.ConfigMap(r.pod.Namespace, name)
	if err == nil && cm == nil {
		err = apierrors.NewNotFound(v1.Resource("configmaps"), name)
	}
	if err != nil {
		return nil, r.sourceError(field, "configmap", name, key, optional, err)
	}
	r.configMaps[name] = cm
	return cm, nil
}

// secret is configMap for secrets.
func (r *envResolver) secret(field, name, key string, optional bool) (*v1.Secret, error) {
	if s, ok := r.secrets[name]; ok {
		return s, nil
	}
	s, err := r.src.Secret(r.pod.Namespace, name)
	if err == nil && s == nil {
		err = apierrors.NewNotFound(v1.Resource("secrets"), name)
	}
	if err != nil {
		return nil, r.sourceError(field, "secret", name, key, optional, err)
	}
	r.secrets[name] = s
	return s, nil
}

// sourceError turns a failed read into nil (optional and not found), a
// *ConfigError (not found: the pod's author must create it) or a plain error
// (the store failed; retrying may help).
func (r *envResolver) sourceError(field, kind, name, key string, optional bool, err error) error {
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("container %q: %s: read %s %s/%s: %w", r.c.Name, field, kind, r.pod.Namespace, name, err)
	}
	if optional {
		return nil
	}
	what := fmt.Sprintf("%s %s/%s not found", kind, r.pod.Namespace, name)
	if key != "" {
		what = fmt.Sprintf("%s %s/%s (key %q) not found", kind, r.pod.Namespace, name, key)
	}
	return &ConfigError{Container: r.c.Name, Field: field, Detail: what, Err: err}
}
