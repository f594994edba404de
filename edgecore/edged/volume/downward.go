package volume

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

func (s setup) downwardAPIVolume(src *v1.DownwardAPIVolumeSource) (payload, error) {
	return s.downwardItems(src.Items, src.DefaultMode)
}

// downwardItems makes the files of downward API items. Every item is tried,
// so the error lists all the bad ones.
func (s setup) downwardItems(items []v1.DownwardAPIVolumeFile, defaultMode *int32) (payload, error) {
	p := make(payload)
	var errs []error
	for _, item := range items {
		if err := s.addDownwardItem(p, item, defaultMode); err != nil {
			errs = append(errs, fmt.Errorf("downwardAPI item %s: %w", item.Path, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (s setup) addDownwardItem(p payload, item v1.DownwardAPIVolumeFile, defaultMode *int32) error {
	var value string
	var err error
	switch {
	case item.FieldRef != nil:
		value, err = FieldPathValue(s.pod, s.fields, item.FieldRef.FieldPath)
	case item.ResourceFieldRef != nil:
		value, err = ResourceValue(s.pod, s.fields, item.ResourceFieldRef)
	default:
		err = errors.New("neither fieldRef nor resourceFieldRef is set")
	}
	if err != nil {
		return err
	}
	mode, err := modeOrDefault(item.Mode, defaultMode)
	if err != nil {
		return err
	}
	return p.add(item.Path, file{data: []byte(value), mode: mode})
}

// FieldPathValue resolves a downward API fieldRef of the pod as kubelet does.
//
// Volumes may use metadata.name, .namespace, .uid, .labels, .annotations and
// single labels or annotations (metadata.labels['key']); whole label and
// annotation maps are written one `key="value"` line per key, sorted, the
// value quoted Go-style, without a final newline. The paths kubelet resolves
// only for environment variables (spec.nodeName, spec.serviceAccountName,
// status.podIP(s), status.hostIP(s)) are answered too, from f where it has
// them, so that the container setup can use this for env vars; API
// validation keeps them out of volumes.
func FieldPathValue(pod *v1.Pod, f Fields, fieldPath string) (string, error) {
	if path, key, ok := splitSubscript(fieldPath); ok {
		switch path {
		case "metadata.annotations":
			if errs := validation.IsQualifiedName(strings.ToLower(key)); len(errs) > 0 {
				return "", fmt.Errorf("invalid key in %s: %s", fieldPath, strings.Join(errs, "; "))
			}
			return pod.Annotations[key], nil
		case "metadata.labels":
			if errs := validation.IsQualifiedName(key); len(errs) > 0 {
				return "", fmt.Errorf("invalid key in %s: %s", fieldPath, strings.Join(errs, "; "))
			}
			return pod.Labels[key], nil
		}
		return "", fmt.Errorf("fieldPath %q does not support a subscript", fieldPath)
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return orElse(f.NodeName, pod.Spec.NodeName), nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return orElse(f.HostIP, pod.Status.HostIP), nil
	case "status.podIP", "status.podIPs":
		return orElse(f.PodIP, pod.Status.PodIP), nil
	}
	return "", fmt.Errorf("fieldPath %q is not supported", fieldPath)
}

// splitSubscript splits "metadata.labels['key']" into its path and key.
func splitSubscript(fieldPath string) (path, key string, ok bool) {
	rest, found := strings.CutSuffix(fieldPath, "']")
	if !found {
		return "", "", false
	}
	path, key, found = strings.Cut(rest, "['")
	if !found || path == "" {
		return "", "", false
	}
	return path, key, true
}

// formatMap is kubelet's rendering of labels and annotations.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	return b.String()
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ResourceValue resolves a downward API resourceFieldRef as kubelet does: the
// named container's limit or request, divided by the divisor (1 when unset)
// and rounded up. A cpu, memory or ephemeral-storage limit the container does
// not set reads as the node's allocatable amount (f.Allocatable).
func ResourceValue(pod *v1.Pod, f Fields, ref *v1.ResourceFieldSelector) (string, error) {
	c := findContainer(pod, ref.ContainerName)
	if c == nil {
		return "", fmt.Errorf("container %q not found in the pod", ref.ContainerName)
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") || !divisible(v1.ResourceName(name)) {
		return "", fmt.Errorf("container resource %q is not supported", ref.Resource)
	}
	var q resource.Quantity
	if kind == "requests" {
		q = c.Resources.Requests[v1.ResourceName(name)]
	} else {
		q = limitOrAllocatable(c, v1.ResourceName(name), f.Allocatable)
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if v1.ResourceName(name) == v1.ResourceCPU {
		return ceilDiv(q.MilliValue(), divisor.MilliValue(), ref.Resource)
	}
	return ceilDiv(q.Value(), divisor.Value(), ref.Resource)
}

// divisible lists the resources a resourceFieldRef may name.
func divisible(name v1.ResourceName) bool {
	switch name {
	case v1.ResourceCPU, v1.ResourceMemory, v1.ResourceEphemeralStorage:
		return true
	}
	return strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix)
}

func limitOrAllocatable(c *v1.Container, name v1.ResourceName, allocatable v1.ResourceList) resource.Quantity {
	q, ok := c.Resources.Limits[name]
	if (ok && !q.IsZero()) || strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix) {
		// Hugepages are never overcommitted, so never defaulted.
		return q
	}
	if a, ok := allocatable[name]; ok {
		return a
	}
	return q
}

// ceilDiv divides rounding up, in integers so that large values stay exact.
func ceilDiv(value, divisor int64, what string) (string, error) {
	if divisor <= 0 {
		return "", fmt.Errorf("divisor of %s must be positive", what)
	}
	n := value / divisor
	if value%divisor != 0 && value > 0 {
		n++
	}
	return strconv.FormatInt(n, 10), nil
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}
