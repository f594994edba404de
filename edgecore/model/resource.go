package model

import (
	"fmt"
	"strings"
)

// BuildResource returns the edge resource string "<ns>/<type>/<name>", or
// "<ns>/<type>" when name is empty (a list).
func BuildResource(namespace, resourceType, name string) string {
	if name == "" {
		return namespace + "/" + resourceType
	}
	return namespace + "/" + resourceType + "/" + name
}

// Resource is a parsed edge resource string.
type Resource struct {
	Namespace string
	Type      string
	Name      string // empty for a list ("<ns>/<type>")
}

// ParseResource splits an edge resource string. It accepts
// "<ns>/<type>/<name>" and, as KubeEdge's ParseResourceEdge does for
// queries and responses, "<ns>/<type>". Names may not contain '/'.
func ParseResource(resource string) (Resource, error) {
	parts := strings.Split(resource, "/")
	for _, p := range parts {
		if p == "" {
			return Resource{}, fmt.Errorf("resource %q: empty segment (want <ns>/<type>/<name>)", resource)
		}
	}
	switch len(parts) {
	case 3:
		return Resource{Namespace: parts[0], Type: parts[1], Name: parts[2]}, nil
	case 2:
		return Resource{Namespace: parts[0], Type: parts[1]}, nil
	default:
		return Resource{}, fmt.Errorf("resource %q: %d segments (want <ns>/<type>/<name> or <ns>/<type>)", resource, len(parts))
	}
}

// ResourceType returns the type metamanager records for resource, as
// KubeEdge's parseResource: segment 1 of "<ns>/<type>/<name>", the last
// segment of "<ns>/<type>", and "" for any other shape.
func ResourceType(resource string) string {
	parts := strings.Split(resource, "/")
	switch len(parts) {
	case 2, 3:
		return parts[1]
	default:
		return ""
	}
}

// String returns the resource string.
func (r Resource) String() string { return BuildResource(r.Namespace, r.Type, r.Name) }
