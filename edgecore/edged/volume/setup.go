package volume

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Plugin directory names under Root/<uid>/volumes, kubelet's escaped plugin
// names, so that tools knowing kubelet's layout find their way.
const (
	emptyDirPlugin    = "kubernetes.io~empty-dir"
	configMapPlugin   = "kubernetes.io~configmap"
	secretPlugin      = "kubernetes.io~secret"
	downwardAPIPlugin = "kubernetes.io~downward-api"
	projectedPlugin   = "kubernetes.io~projected"
)

// setup is one Setup call: the pod and what its volumes are resolved with.
type setup struct {
	pod     *v1.Pod
	src     Sources
	fields  Fields
	fsGroup *int64
	dir     string // Root/<uid>/volumes
	runDir  string // RunRoot/<uid>; "" without a RunRoot
}

// volume prepares one volume. Errors do not name the volume; Setup does.
func (s setup) volume(vol *v1.Volume) (Mount, error) {
	vs := &vol.VolumeSource
	switch {
	case vs.EmptyDir != nil:
		return s.emptyDir(vol.Name, vs.EmptyDir)
	case vs.HostPath != nil:
		return hostPath(vs.HostPath)
	case vs.ConfigMap != nil:
		return s.content(configMapPlugin, vol.Name, func() (payload, error) { return s.configMapVolume(vs.ConfigMap) })
	case vs.Secret != nil:
		return s.content(secretPlugin, vol.Name, func() (payload, error) { return s.secretVolume(vs.Secret) })
	case vs.DownwardAPI != nil:
		return s.content(downwardAPIPlugin, vol.Name, func() (payload, error) { return s.downwardAPIVolume(vs.DownwardAPI) })
	case vs.Projected != nil:
		return s.content(projectedPlugin, vol.Name, func() (payload, error) { return s.projectedVolume(vs.Projected) })
	}
	name := setField(reflect.ValueOf(*vs))
	if name == "" {
		// API defaulting turns a volume without a source into an emptyDir;
		// a pod that skipped defaulting (a static pod, a test) gets the same.
		return s.emptyDir(vol.Name, nil)
	}
	return Mount{}, fmt.Errorf("type %s is not supported on this node", name)
}

// content makes a read-only volume whose files are computed by build and
// written atomically. Nothing is touched when build fails, so a running pod
// keeps its last good content.
func (s setup) content(plugin, name string, build func() (payload, error)) (Mount, error) {
	p, err := build()
	if err != nil {
		return Mount{}, err
	}
	dir, err := s.volumePath(plugin, name)
	if err != nil {
		return Mount{}, err
	}
	// 0777 like the emptyDir kubelet wraps these volumes in, so that any
	// container user can use the directory; the mount is read-only anyway.
	if err := makeDir(dir, dirMode(0o777, s.fsGroup, true), s.fsGroup); err != nil {
		return Mount{}, err
	}
	if err := makeNestedMountpoints(s.pod, name, dir, s.fsGroup); err != nil {
		return Mount{}, err
	}
	if err := writeAtomic(dir, p, s.fsGroup); err != nil {
		return Mount{}, err
	}
	return Mount{HostPath: dir, ReadOnly: true}, nil
}

// volumePath returns Root/<uid>/volumes/<plugin>/<name>, creating the
// plugin directory but not the volume's.
func (s setup) volumePath(plugin, name string) (string, error) {
	if !isPathElement(name) {
		return "", fmt.Errorf("volume name %q is not a single path element", name)
	}
	pluginDir := filepath.Join(s.dir, plugin)
	if err := makeDir(pluginDir, podDirMode, nil); err != nil {
		return "", err
	}
	return filepath.Join(pluginDir, name), nil
}

// setField returns the JSON name of the first non-nil pointer field of a
// struct, i.e. which member of a one-of API type (VolumeSource,
// VolumeProjection) is set, or "" if none is.
func setField(v reflect.Value) string {
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Pointer || f.IsNil() {
			continue
		}
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if tag == "" {
			tag = t.Field(i).Name
		}
		return tag
	}
	return ""
}
