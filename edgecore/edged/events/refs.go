package events

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodRef is the involvedObject of an event about a pod, as client-go's
// reference.GetReference makes it.
func PodRef(pod *v1.Pod) *v1.ObjectReference {
	return &v1.ObjectReference{
		Kind:            "Pod",
		APIVersion:      "v1",
		Namespace:       pod.Namespace,
		Name:            pod.Name,
		UID:             pod.UID,
		ResourceVersion: pod.ResourceVersion,
	}
}

// ContainerRef is the involvedObject of an event about one of the pod's
// containers: the pod, with the container's field path
// (spec.containers{web}), as the kubelet's GenerateContainerRef.
func ContainerRef(pod *v1.Pod, c *v1.Container) *v1.ObjectReference {
	ref := PodRef(pod)
	ref.FieldPath = containerFieldPath(pod, c.Name)
	return ref
}

func containerFieldPath(pod *v1.Pod, name string) string {
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return fmt.Sprintf("spec.initContainers{%s}", name)
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return fmt.Sprintf("spec.ephemeralContainers{%s}", name)
		}
	}
	return fmt.Sprintf("spec.containers{%s}", name)
}

// NodeRef is the involvedObject of an event about the node: the kubelet's
// nodeRef, whose UID is the node's name.
func NodeRef(name string) *v1.ObjectReference {
	return &v1.ObjectReference{Kind: "Node", Name: name, UID: types.UID(name)}
}
