package edged

import (
	"encoding/json"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/edgegate/edgegate/edgecore/model"
)

// invalidPodAnnotation marks a pod whose object did not decode; the
// worker runs nothing for it and reports why in every container's status.
const invalidPodAnnotation = "edgegate.io/invalid-pod-object"

func podOf(msg *model.Message) (*v1.Pod, error) {
	data, err := msg.ContentData()
	if err != nil {
		return nil, err
	}
	return parsePod(data)
}

// parsePod decodes a v1.Pod. One whose spec does not decode (a bad
// quantity, a wrong type) but whose metadata and container names do is
// returned with invalidPodAnnotation holding the error, so that it gets a
// status naming the problem instead of vanishing.
func parsePod(data []byte) (*v1.Pod, error) {
	var p v1.Pod
	err := json.Unmarshal(data, &p)
	if err == nil {
		if p.Name == "" || p.UID == "" {
			return nil, errors.New("content is not a pod: metadata.name or metadata.uid is empty")
		}
		return &p, nil
	}
	var lenient struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
		Spec     struct {
			NodeName       string `json:"nodeName"`
			InitContainers []struct {
				Name  string `json:"name"`
				Image string `json:"image"`
			} `json:"initContainers"`
			Containers []struct {
				Name  string `json:"name"`
				Image string `json:"image"`
			} `json:"containers"`
		} `json:"spec"`
	}
	if json.Unmarshal(data, &lenient) != nil || lenient.Metadata.Name == "" || lenient.Metadata.UID == "" {
		return nil, fmt.Errorf("content is not a pod: %w", err)
	}
	bad := &v1.Pod{ObjectMeta: lenient.Metadata}
	bad.Spec.NodeName = lenient.Spec.NodeName
	for _, c := range lenient.Spec.InitContainers {
		bad.Spec.InitContainers = append(bad.Spec.InitContainers, v1.Container{Name: c.Name, Image: c.Image})
	}
	for _, c := range lenient.Spec.Containers {
		bad.Spec.Containers = append(bad.Spec.Containers, v1.Container{Name: c.Name, Image: c.Image})
	}
	if bad.Annotations == nil {
		bad.Annotations = map[string]string{}
	}
	bad.Annotations[invalidPodAnnotation] = fmt.Sprintf("pod object does not decode: %v", err)
	return bad, nil
}

// podList reads metamanager's answer to a list query: a JSON array of
// stored values, each a v1.Pod. Values that are not pods are returned as
// errors; the others still count.
func podList(resp *model.Message) ([]*v1.Pod, []error) {
	var values []string
	if err := resp.DecodeContent(&values); err != nil {
		return nil, []error{fmt.Errorf("pod list: %w", err)}
	}
	var pods []*v1.Pod
	var bad []error
	for _, v := range values {
		p, err := parsePod([]byte(v))
		if err != nil {
			bad = append(bad, err)
			continue
		}
		pods = append(pods, p)
	}
	return pods, bad
}

// uidOf is metadata.uid of a delete's content, if it carries a pod.
func uidOf(msg *model.Message) string {
	data, err := msg.ContentData()
	if err != nil {
		return ""
	}
	var meta struct {
		Metadata struct {
			UID types.UID `json:"uid"`
		} `json:"metadata"`
	}
	if json.Unmarshal(data, &meta) != nil {
		return ""
	}
	return string(meta.Metadata.UID)
}
