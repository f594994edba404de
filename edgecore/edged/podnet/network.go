package podnet

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"k8s.io/klog/v2"
)

// Network sets pods up on the CNI network and publishes their host ports.
// Its methods are safe for concurrent use; Setup and Teardown run one at a
// time (a CNI ADD takes a fraction of a second and a gateway runs few
// pods, so there is nothing to gain from overlapping them).
type Network struct {
	cfg     Config
	cni     *libcni.CNIConfig
	records records

	mu sync.Mutex // held by Setup and Teardown; guards the port tables
	// ports are the host ports wanted, installed those the kernel's table
	// holds, as far as known: unsure when a restart found rules whose
	// installation failed (they may or may not be there).
	ports, installed portTable
	unsure           bool
}

// New returns the network of cfg. It reloads the host ports of the pods
// set up before a restart and installs them again, so that they keep
// working and setting up other pods does not drop them. Failing to is not
// fatal: pods without host ports still work, and the Setup of each pod
// with host ports tries again (and fails while the table cannot be
// installed).
func New(cfg Config) (*Network, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// init makes it a shared mount point before containerd starts; when it
	// did not, a directory still serves edgecore's own mount namespace.
	if err := os.MkdirAll(cfg.NetNSDir, 0o755); err != nil {
		return nil, fmt.Errorf("pod network: %w", err)
	}
	n := &Network{
		cfg:     cfg,
		cni:     libcni.NewCNIConfigWithCacheDir(cfg.CNIBinDirs, cfg.CNICacheDir, nil),
		records: records{dir: filepath.Join(cfg.CNICacheDir, "pods")},
		ports:   portTable{},
	}
	if err := n.loadPorts(); err != nil {
		return nil, err
	}
	// The previous run installed them (or tried to).
	n.installed = maps.Clone(n.ports)
	if err := n.syncTable(); err != nil {
		n.unsure = true
		klog.Errorf("podnet: host ports of the pods set up before: %v", err)
	}
	return n, nil
}

// loadPorts fills the port table from the pods' records.
func (n *Network) loadPorts() error {
	uids, err := n.records.uids()
	if err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	for _, uid := range uids {
		rec, ok, err := n.records.read(uid)
		if err == nil && ok {
			_, err = n.ports.set(rec)
		}
		if err != nil {
			// Its pod's next Setup writes it again.
			klog.Errorf("podnet: host ports of %s not restored: %v", uid, err)
		}
	}
	return nil
}

func (n *Network) netnsPath(uid string) string {
	return filepath.Join(n.cfg.NetNSDir, netnsPrefix+uid)
}

// Ready reports why pods cannot be networked, or nil: the network list
// must be there and parse, and its plugins (IPAM included) be installed.
// Host ports are not part of it: a table that cannot be installed fails
// the Setup of the pods that publish ports, not the node.
func (n *Network) Ready() error {
	list, err := n.loadList()
	if err != nil {
		return err
	}
	for _, p := range list.Plugins {
		for _, typ := range []string{p.Network.Type, p.Network.IPAM.Type} {
			if typ == "" {
				continue
			}
			if _, err := invoke.FindInPath(typ, n.cfg.CNIBinDirs); err != nil {
				return fmt.Errorf("CNI network %q: plugin %q: %w", list.Name, typ, err)
			}
		}
	}
	if st, err := os.Stat(n.cfg.NetNSDir); err != nil {
		return fmt.Errorf("network namespaces: %w", err)
	} else if !st.IsDir() {
		return fmt.Errorf("network namespaces: %s is not a directory", n.cfg.NetNSDir)
	}
	return nil
}

// Pods lists the UIDs of the pods this package has set up and not torn
// down: those with a namespace in NetNSDir or a record. Teardown of the
// ones no longer wanted is the caller's garbage collection.
func (n *Network) Pods() ([]string, error) {
	uids, err := n.records.uids()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(n.cfg.NetNSDir)
	if err != nil {
		return nil, fmt.Errorf("network namespaces: %w", err)
	}
	for _, e := range entries {
		if uid, ok := strings.CutPrefix(e.Name(), netnsPrefix); ok && validUID(uid) == nil {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	return slices.Compact(uids), nil
}
