package podnet

import (
	"strings"
	"testing"
)

func TestValidUID(t *testing.T) {
	for uid, ok := range map[string]bool{
		"6f1d2c1e-8f3a-4c4e-9d55-0b7e8e0c9a11": true,
		"a":                                    true,
		"":                                     false,
		"../etc":                               false,
		"a/b":                                  false,
		"-a":                                   false,
		strings.Repeat("a", 201):               false,
	} {
		if err := validUID(uid); (err == nil) != ok {
			t.Errorf("validUID(%q) = %v, want ok %v", uid, err, ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{NetNSDir: "/run/netns", CNIConfDir: "/run/edgegate/cni", CNIBinDirs: []string{"/usr/libexec/cni"},
		CNICacheDir: "/run/edgegate/cni-cache", NetworkName: "edgegate", Table: "edgegate-hostports"}
	if err := good.validate(); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.Table, bad.CNIBinDirs = "", nil
	err := bad.validate()
	if err == nil || !strings.Contains(err.Error(), "Table") || !strings.Contains(err.Error(), "CNIBinDirs") {
		t.Fatalf("validate = %v, want both missing fields named", err)
	}
	if _, err := New(bad); err == nil {
		t.Fatal("New with a bad config: no error")
	}
}
