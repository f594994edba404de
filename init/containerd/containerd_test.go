package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	srvconfig "github.com/containerd/containerd/v2/cmd/containerd/server/config"
	"github.com/containerd/containerd/v2/version"
	"github.com/containernetworking/cni/libcni"
	"github.com/google/nftables"

	"github.com/edgegate/edgegate/init/internal/netnstest"
)

// TestConfigTOML loads the configuration with containerd's own loader, as
// the daemon does: the servers' addresses must reach their plugins (in a
// version 4 file the top-level [grpc] and [debug] sections are ignored).
func TestConfigTOML(t *testing.T) {
	s := Default()
	s.Root = `/var/lib/a "quoted" dir`
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, ConfigTOML(s), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := &srvconfig.Config{Version: version.ConfigVersion}
	if err := srvconfig.LoadConfig(ctx, path, cfg); err != nil {
		t.Fatalf("containerd refuses the config: %v\n%s", err, ConfigTOML(s))
	}
	if cfg.Version != 4 || cfg.Root != s.Root || cfg.State != s.State {
		t.Errorf("config version %d, root %q, state %q; want 4, %q, %q", cfg.Version, cfg.Root, cfg.State, s.Root, s.State)
	}
	if !contains(cfg.DisabledPlugins, "io.containerd.grpc.v1.cri") {
		t.Errorf("CRI not disabled: %v", cfg.DisabledPlugins)
	}
	for id, want := range map[string]string{"io.containerd.server.v1.grpc": s.Socket, "io.containerd.server.v1.debug": s.DebugSocket} {
		var server struct {
			Address string `toml:"address"`
		}
		if _, err := cfg.Decode(ctx, id, &server); err != nil || server.Address != want {
			t.Errorf("plugin %s: address %q (%v), want %q", id, server.Address, err, want)
		}
	}
	// init's health check asks the debug server: it must look where the
	// daemon serves it.
	if h := Service().Health; h.Address != s.DebugSocket {
		t.Errorf("health check asks %q, the debug server is at %q", h.Address, s.DebugSocket)
	}
}

func TestCNIConfList(t *testing.T) {
	raw, err := CNIConfList(Default())
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(raw)
	if err != nil {
		t.Fatalf("libcni refuses the network list: %v\n%s", err, raw)
	}
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	if list.Name != NetworkName || strings.Join(types, ",") != "bridge" {
		t.Errorf("network %q with plugins %v", list.Name, types)
	}
	if !strings.Contains(string(list.Plugins[0].Bytes), `"subnet":"10.88.0.0/16"`) {
		t.Errorf("bridge has not the default subnet:\n%s", list.Plugins[0].Bytes)
	}
}

func TestMasqueradeBadSubnet(t *testing.T) {
	for _, subnet := range []string{"", "10.88.0.0", "fd00::/64", "300.1.0.0/16"} {
		if err := Masquerade(subnet, "edge0"); err == nil || !strings.Contains(err.Error(), "subnet") {
			t.Errorf("Masquerade(%q) = %v, want an error naming the subnet", subnet, err)
		}
	}
}

// TestMasqueradeInstallsOnce installs the NAT and forward rules in a fresh
// network namespace, twice, and reads the kernel's tables back: one table,
// its two chains, no duplicated rules.
func TestMasqueradeInstallsOnce(t *testing.T) {
	ns := netnstest.NewNS(t)
	netnstest.In(t, ns, func() {
		for i := 0; i < 2; i++ {
			netnstest.Must(t, Masquerade("10.88.0.0/16", "edge0"))
		}
	})
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)))
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.ListTables()
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 1 || tables[0].Name != natTable {
		t.Fatalf("tables = %v, want only %s", tables, natTable)
	}
	chains, err := c.ListChains()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"postrouting": 1, "forward": 3} // rules per chain
	if len(chains) != len(want) {
		t.Fatalf("%d chains, want %d", len(chains), len(want))
	}
	for _, ch := range chains {
		rules, err := c.GetRules(tables[0], ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(rules) != want[ch.Name] {
			t.Errorf("chain %s: %d rules after two installs, want %d", ch.Name, len(rules), want[ch.Name])
		}
		if ch.Name == "forward" && (ch.Policy == nil || *ch.Policy != nftables.ChainPolicyDrop) {
			t.Errorf("forward chain policy %v, want drop", ch.Policy)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestNeedFilesystem(t *testing.T) {
	dir := t.TempDir()
	list := dir + "/filesystems"
	os.WriteFile(list, []byte("nodev\tsysfs\nnodev\ttmpfs\n\text4\nnodev\toverlay\n"), 0o644)
	for _, tt := range []struct {
		path, fs, wantErr string
	}{
		{list, "overlay", ""},
		{list, "ext4", ""},
		{list, "squashfs", "load the squashfs module"},
		{list, "over", "no over filesystem"},
		{dir + "/absent", "overlay", "kernel filesystems"},
	} {
		err := needFilesystem(tt.path, tt.fs)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("needFilesystem(%s) = %v, want %q", tt.fs, err, tt.wantErr)
		}
	}
}
