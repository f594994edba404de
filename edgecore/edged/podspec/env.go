package podspec

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Fields are the facts about the pod and its node that fieldRef and
// resourceFieldRef read and that are not (yet) in the pod object.
type Fields struct {
	// PodIP and PodIPs are the pod's addresses; PodIPs, when set, wins and
	// its first entry is status.podIP (kubelet orders them by the node's
	// preferred family before it gets here).
	PodIP  string
	PodIPs []string
	// HostIP and HostIPs are the node's addresses, read the same way.
	HostIP  string
	HostIPs []string
	// NodeName is spec.nodeName when the pod object does not carry it.
	NodeName string
	// Allocatable is the node's allocatable resources. A resourceFieldRef to
	// a cpu, memory or ephemeral-storage limit the container does not set
	// reads the node's allocatable amount, as kubelet does; without it such
	// a limit reads "0".
	Allocatable v1.ResourceList
}

// Env returns the container's environment as KEY=value entries, with
// kubelet's rules:
//   - imageEnv (the image config's Env) comes first;
//   - then envFrom, source by source, each source's keys in sorted order
//     (kubelet's order is a map's, i.e. none), with its prefix; a missing
//     optional source is skipped, and keys that cannot be variable names
//     (empty, or not printable ASCII without '=') are skipped;
//   - then env in order: value with $(VAR) expanded against the variables
//     resolved so far from envFrom and env (not the image's, as in kubelet),
//     or valueFrom (configMapKeyRef, secretKeyRef, fieldRef,
//     resourceFieldRef); a valueFrom whose optional object or key is missing
//     sets nothing.
//
// A key set again replaces the value in place, so every key appears once.
// A non-optional configmap, secret or key that does not exist is a
// *ConfigError wrapping the source's error.
func Env(pod *v1.Pod, c *v1.Container, imageEnv []string, src Sources, f Fields) ([]string, error) {
	r := &envResolver{
		pod: pod, c: c, src: src, fields: f,
		configMaps: map[string]*v1.ConfigMap{},
		secrets:    map[string]*v1.Secret{},
	}
	declared := newEnvList()
	for i := range c.EnvFrom {
		if err := r.addEnvFrom(declared, i); err != nil {
			return nil, err
		}
	}
	for i := range c.Env {
		if err := r.addEnv(declared, i); err != nil {
			return nil, err
		}
	}

	env := newEnvList()
	for _, kv := range imageEnv {
		// An entry without '=' would unset the key in containerd's merge;
		// there is nothing before the image's entries to unset.
		if k, v, ok := strings.Cut(kv, "="); ok {
			env.set(k, v)
		}
	}
	for _, k := range declared.keys {
		env.set(k, declared.values[k])
	}
	return env.entries(), nil
}

// envList is an environment that keeps the order keys were first set in.
type envList struct {
	keys   []string
	values map[string]string
}

func newEnvList() *envList { return &envList{values: map[string]string{}} }

func (l *envList) set(k, v string) {
	if _, ok := l.values[k]; !ok {
		l.keys = append(l.keys, k)
	}
	l.values[k] = v
}

func (l *envList) lookup(k string) (string, bool) {
	v, ok := l.values[k]
	return v, ok
}

func (l *envList) entries() []string {
	out := make([]string, 0, len(l.keys))
	for _, k := range l.keys {
		out = append(out, k+"="+l.values[k])
	}
	return out
}

// envResolver reads each configmap and secret once per container, as kubelet
// does within one container start.
type envResolver struct {
	pod        *v1.Pod
	c          *v1.Container
	src        Sources
	fields     Fields
	configMaps map[string]*v1.ConfigMap
	secrets    map[string]*v1.Secret
}

// addEnvFrom sets the variables of the container's envFrom[i].
func (r *envResolver) addEnvFrom(env *envList, i int) error {
	from := r.c.EnvFrom[i]
	var data map[string]string
	switch {
	case from.ConfigMapRef != nil:
		field := fmt.Sprintf("envFrom[%d].configMapRef", i)
		cm, err := r.configMap(field, from.ConfigMapRef.Name, "", isTrue(from.ConfigMapRef.Optional))
		if err != nil || cm == nil {
			return err
		}
		data = cm.Data
	case from.SecretRef != nil:
		field := fmt.Sprintf("envFrom[%d].secretRef", i)
		s, err := r.secret(field, from.SecretRef.Name, "", isTrue(from.SecretRef.Optional))
		if err != nil || s == nil {
			return err
		}
		data = make(map[string]string, len(s.Data))
		for k, v := range s.Data {
			data[k] = string(v)
		}
	default:
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		name := from.Prefix + k
		if !isEnvVarName(name) {
			continue
		}
		env.set(name, data[k])
	}
	return nil
}

// addEnv sets the container's env[i], if it resolves to a value.
func (r *envResolver) addEnv(env *envList, i int) error {
	e := r.c.Env[i]
	if e.Value != "" || e.ValueFrom == nil {
		env.set(e.Name, expand(e.Value, env.lookup))
		return nil
	}
	field := fmt.Sprintf("env[%d].valueFrom", i)
	from := e.ValueFrom
	var (
		value string
		ok    = true
		err   error
	)
	switch {
	case from.FieldRef != nil:
		value, err = r.fieldRef(field+".fieldRef", from.FieldRef)
	case from.ResourceFieldRef != nil:
		value, err = r.resourceFieldRef(field+".resourceFieldRef", from.ResourceFieldRef)
	case from.ConfigMapKeyRef != nil:
		value, ok, err = r.configMapKey(field+".configMapKeyRef", from.ConfigMapKeyRef)
	case from.SecretKeyRef != nil:
		value, ok, err = r.secretKey(field+".secretKeyRef", from.SecretKeyRef)
	default:
		return configError(r.c.Name, field, "variable %s: no supported source (fileKeyRef is not supported)", e.Name)
	}
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.Detail = "variable " + e.Name + ": " + ce.Detail
			return ce
		}
		return fmt.Errorf("variable %s: %w", e.Name, err)
	}
	if ok {
		env.set(e.Name, value)
	}
	return nil
}

// isEnvVarName is Kubernetes' relaxed rule for environment variable names
// (RelaxedEnvironmentVariableValidation): a non-empty run of printable ASCII
// other than '='. Current kubelet no longer drops envFrom keys that are not C
// identifiers; a key outside this rule could not even be written as
// KEY=value (and the API does not allow such configmap or secret keys).
func isEnvVarName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' || s[i] == '=' {
			return false
		}
	}
	return true
}
