package podnet

import (
	"errors"
	"fmt"
	"net"
	"regexp"
)

// Config says where the pod network's pieces are.
type Config struct {
	// NetNSDir holds the pinned namespaces, one file per pod (/run/netns).
	NetNSDir string
	// CNIConfDir holds the network list named NetworkName
	// (/run/edgegate/cni).
	CNIConfDir string
	// CNIBinDirs are searched for the plugins (/usr/libexec/cni).
	CNIBinDirs []string
	// CNICacheDir is libcni's result cache and this package's own pod
	// records (/run/edgegate/cni-cache). It must not outlive a boot: the
	// namespaces it describes do not.
	CNICacheDir string
	// NetworkName is the CNI network pods join ("edgegate").
	NetworkName string
	// Table is the nftables table (family ip) of the host ports
	// ("edgegate-hostports"); it is owned whole by this package.
	Table string
}

func (c Config) validate() error {
	var missing []error
	for _, f := range []struct{ name, value string }{
		{"NetNSDir", c.NetNSDir}, {"CNIConfDir", c.CNIConfDir}, {"CNICacheDir", c.CNICacheDir},
		{"NetworkName", c.NetworkName}, {"Table", c.Table},
	} {
		if f.value == "" {
			missing = append(missing, fmt.Errorf("%s is empty", f.name))
		}
	}
	if len(c.CNIBinDirs) == 0 {
		missing = append(missing, errors.New("CNIBinDirs is empty"))
	}
	if err := errors.Join(missing...); err != nil {
		return fmt.Errorf("pod network config: %w", err)
	}
	return nil
}

// PortMapping publishes a container port on the node (a ContainerPort with
// a HostPort). Mappings with HostPort 0 publish nothing.
type PortMapping struct {
	HostPort      int32
	ContainerPort int32
	// Protocol is TCP (also when empty), UDP or SCTP.
	Protocol string
	// HostIP limits the mapping to one node address; empty or 0.0.0.0 is
	// every address of the node.
	HostIP string
}

// Pod is what the network needs to know of a pod.
type Pod struct {
	UID, Namespace, Name string
	Ports                []PortMapping
}

// Attachment is a pod's place on the network.
type Attachment struct {
	// NetNS is the pinned namespace the pod's containers join.
	NetNS string
	// IPs are the pod's addresses (status.podIPs), Gateway its default
	// gateway (the bridge).
	IPs     []net.IP
	Gateway net.IP
}

// uidPattern is what CNI accepts as a container ID, which the UID is used
// as; it also keeps the UID safe as part of a file name.
var uidPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$`)

func validUID(uid string) error {
	if !uidPattern.MatchString(uid) || len(uid) > 200 {
		return fmt.Errorf("pod UID %q is not usable as a CNI container ID", uid)
	}
	return nil
}

// ref names a pod in errors and rule comments: namespace/name (uid).
func ref(uid, namespace, name string) string {
	if namespace == "" && name == "" {
		return "pod " + uid
	}
	return fmt.Sprintf("pod %s/%s (%s)", namespace, name, uid)
}
