package prober

import (
	"fmt"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// resolvePort turns a probe's port into a number. A name is looked up among
// the container's ports; like the kubelet, a name that is not declared is
// tried as a number written as a string before giving up.
func resolvePort(port intstr.IntOrString, c *v1.Container) (int, error) {
	var n int
	switch port.Type {
	case intstr.Int:
		n = int(port.IntVal)
	case intstr.String:
		named, ok := namedPort(c, port.StrVal)
		if !ok {
			parsed, err := strconv.Atoi(port.StrVal)
			if err != nil {
				return 0, fmt.Errorf("probe port %q is not a port declared by container %s", port.StrVal, containerSpecName(c))
			}
			named = parsed
		}
		n = named
	default:
		return 0, fmt.Errorf("probe port %v has neither a number nor a name", port)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("probe port %d is out of range 1-65535", n)
	}
	return n, nil
}

func namedPort(c *v1.Container, name string) (int, bool) {
	if c == nil {
		return 0, false
	}
	for _, p := range c.Ports {
		if p.Name == name {
			return int(p.ContainerPort), true
		}
	}
	return 0, false
}

func containerSpecName(c *v1.Container) string {
	if c == nil || c.Name == "" {
		return "<unnamed>"
	}
	return c.Name
}
