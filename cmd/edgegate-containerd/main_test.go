package main

import "testing"

func TestRole(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"/usr/bin/containerd", "--config", "/run/containerd/config.toml"}, "containerd"},
		{[]string{"containerd-shim-runc-v2", "-namespace", "edgegate", "-address", "/run/containerd/containerd.sock", "start"}, "shim"},
		// the shim re-executes itself through os.Executable: the link's target
		{[]string{"/usr/bin/edgegate-containerd", "-namespace", "edgegate", "-id", "c1", "-address", "/run/containerd/containerd.sock"}, "shim"},
		{[]string{"/usr/bin/edgegate-ctr", "health"}, "edgegate-ctr"},
		{[]string{"/usr/bin/edgegate-containerd"}, "serve"},
		{[]string{"/usr/bin/edgegate-containerd", "--subnet", "10.99.0.0/16"}, "serve"},
	} {
		if got := role(tt.args); got != tt.want {
			t.Errorf("role(%q) = %s, want %s", tt.args, got, tt.want)
		}
	}
}
