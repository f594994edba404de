package podspec

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// fieldRef returns the pod field an env var's fieldRef selects: the ones the
// API accepts for env vars (metadata name, namespace, uid, one label or
// annotation; spec nodeName and serviceAccountName; status pod and host IPs).
func (r *envResolver) fieldRef(field string, ref *v1.ObjectFieldSelector) (string, error) {
	if ref.APIVersion != "" && ref.APIVersion != "v1" {
		return "", configError(r.c.Name, field+".apiVersion", "unsupported version %q (only v1)", ref.APIVersion)
	}
	pod := r.pod
	if base, key, ok := splitSubscript(ref.FieldPath); ok {
		switch base {
		case "metadata.labels":
			return pod.Labels[key], nil
		case "metadata.annotations":
			return pod.Annotations[key], nil
		}
	}
	switch ref.FieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		if pod.Spec.NodeName != "" {
			return pod.Spec.NodeName, nil
		}
		return r.fields.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return first(addresses(r.fields.PodIPs, r.fields.PodIP)), nil
	case "status.podIPs":
		return strings.Join(addresses(r.fields.PodIPs, r.fields.PodIP), ","), nil
	case "status.hostIP", "status.hostIPs":
		ips := addresses(r.fields.HostIPs, r.fields.HostIP)
		if len(ips) == 0 {
			// kubelet fails the container too when it does not know
			// the node's address yet; it is retried.
			return "", fmt.Errorf("container %q: %s: the node's IP address is not known yet", r.c.Name, field)
		}
		if ref.FieldPath == "status.hostIP" {
			return ips[0], nil
		}
		return strings.Join(ips, ","), nil
	}
	return "", configError(r.c.Name, field+".fieldPath", "unsupported field %q", ref.FieldPath)
}

// splitSubscript splits "metadata.labels['key']" into its base and key.
func splitSubscript(path string) (base, key string, ok bool) {
	s, found := strings.CutSuffix(path, "']")
	if !found {
		return "", "", false
	}
	base, key, ok = strings.Cut(s, "['")
	return base, key, ok && base != ""
}

func addresses(all []string, one string) []string {
	if len(all) > 0 {
		return all
	}
	if one != "" {
		return []string{one}
	}
	return nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// resourceFieldRef returns a container's resource limit or request in units
// of the divisor (default 1), rounded up, as kubelet's downward API does.
func (r *envResolver) resourceFieldRef(field string, ref *v1.ResourceFieldSelector) (string, error) {
	target := r.c
	if ref.ContainerName != "" && ref.ContainerName != r.c.Name {
		target = findContainer(r.pod, ref.ContainerName)
		if target == nil {
			return "", configError(r.c.Name, field+".containerName", "no container %q in the pod", ref.ContainerName)
		}
	}
	v, err := resourceValue(ref, target.Resources, r.fields.Allocatable)
	if err != nil {
		return "", configError(r.c.Name, field+".resource", "%v", err)
	}
	return v, nil
}

func findContainer(pod *v1.Pod, name string) *v1.Container {
	for _, list := range [][]v1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func resourceValue(ref *v1.ResourceFieldSelector, res v1.ResourceRequirements, allocatable v1.ResourceList) (string, error) {
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, _ := strings.Cut(ref.Resource, ".")
	rn := v1.ResourceName(name)
	var q resource.Quantity
	switch kind {
	case "limits":
		q = res.Limits[rn]
		// kubelet reads a missing (or zero) cpu, memory or
		// ephemeral-storage limit as the node's allocatable amount.
		if a, ok := allocatable[rn]; ok && q.IsZero() && defaultsToAllocatable(rn) {
			q = a
		}
	case "requests":
		q = res.Requests[rn]
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	switch {
	case rn == v1.ResourceCPU:
		return ceilDiv(float64(q.MilliValue()), float64(divisor.MilliValue())), nil
	case rn == v1.ResourceMemory || rn == v1.ResourceEphemeralStorage || strings.HasPrefix(name, v1.ResourceHugePagesPrefix):
		return ceilDiv(float64(q.Value()), float64(divisor.Value())), nil
	}
	return "", fmt.Errorf("unsupported resource %q", ref.Resource)
}

func defaultsToAllocatable(rn v1.ResourceName) bool {
	return rn == v1.ResourceCPU || rn == v1.ResourceMemory || rn == v1.ResourceEphemeralStorage
}

func ceilDiv(n, d float64) string {
	return strconv.FormatInt(int64(math.Ceil(n/d)), 10)
}
