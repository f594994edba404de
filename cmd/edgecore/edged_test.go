package main

import (
	"os"
	"path/filepath"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/nodestatus"
)

// TestEdgedPodsDir: pods' volumes stay in the gateway's layout unless
// rootDirectory names another place than the kubelet's default.
func TestEdgedPodsDir(t *testing.T) {
	for _, tc := range []struct{ root, want string }{
		{"", "/var/lib/edgegate/pods"},
		{config.DefaultRootDirectory, "/var/lib/edgegate/pods"},
		{"/data/kubelet", "/data/kubelet/pods"},
	} {
		doc := "apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\nmodules:\n  edged:\n    enable: true\n"
		if tc.root != "" {
			doc += "    rootDirectory: " + tc.root + "\n"
		}
		cfg, err := config.Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := edgedConfig(cfg, nil).PodsDir; got != tc.want {
			t.Errorf("rootDirectory %q: PodsDir %s, want %s", tc.root, got, tc.want)
		}
	}
}

// TestNodeAllocatable: what edged sizes memory volumes by is the node
// status's allocatable memory, capacity less memory.available.
func TestNodeAllocatable(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	meminfo := "MemTotal:        1048576 kB\nMemAvailable:     524288 kB\n"
	if err := os.WriteFile(filepath.Join(root, "proc", "meminfo"), []byte(meminfo), 0o644); err != nil {
		t.Fatal(err)
	}
	eviction := nodestatus.DefaultEviction()
	read := nodeAllocatable(nodestatus.Config{Machine: nodestatus.Machine{Root: root, FSPath: root, StateDir: root}, Eviction: &eviction})
	got, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if mem := got[v1.ResourceMemory]; mem.Value() != 1<<30-100<<20 {
		t.Errorf("allocatable memory %s, want 1Gi less 100Mi", mem.String())
	}
	if cpu := got[v1.ResourceCPU]; cpu.Value() <= 0 {
		t.Errorf("allocatable cpu %s", cpu.String())
	}
}
