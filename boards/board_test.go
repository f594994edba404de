package boards

import (
	"strings"
	"testing"
)

func TestAllBoardsValidate(t *testing.T) {
	for _, b := range All() {
		if err := b.Validate(); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{"qemu-arm64", ""},
		{"qemu-armv7", ""},
		{"rpi5", `unknown board "rpi5" (known: qemu-arm64, qemu-armv7)`},
		{"", `unknown board ""`},
	}
	for _, tt := range tests {
		b, err := Lookup(tt.name)
		if tt.wantErr == "" {
			if err != nil || b.Name != tt.name {
				t.Errorf("Lookup(%q) = %q, %v", tt.name, b.Name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("Lookup(%q) error = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

func TestValidateNamesProblems(t *testing.T) {
	b := QEMUArm64()
	b.Kernel.SHA256 = "abc"
	b.BootCmd = "bootm"
	b.Layout.SlotMiB = 8
	err := b.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken board")
	}
	for _, want := range []string{"linux-image-6.1.0-50-arm64: sha256", `bootCmd "bootm"`, "layout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestPackageNames(t *testing.T) {
	tests := []struct {
		p          Package
		spec, file string
	}{
		{Package{Name: "libc6", Version: "2.36-9+deb12u14", Arch: "arm64"}, "libc6:arm64=2.36-9+deb12u14", "libc6_2.36-9+deb12u14_arm64.deb"},
		{Package{Name: "u-boot-qemu", Version: "2023.01+dfsg-2+deb12u3", Arch: "all"}, "u-boot-qemu=2023.01+dfsg-2+deb12u3", "u-boot-qemu_2023.01+dfsg-2+deb12u3_all.deb"},
		{Package{Name: "qemu", Version: "1:7.2+dfsg-7", Arch: "armhf"}, "qemu:armhf=1:7.2+dfsg-7", "qemu_1%3a7.2+dfsg-7_armhf.deb"},
	}
	for _, tt := range tests {
		if got := tt.p.Spec(); got != tt.spec {
			t.Errorf("Spec() = %q, want %q", got, tt.spec)
		}
		if got := tt.p.Filename(); got != tt.file {
			t.Errorf("Filename() = %q, want %q", got, tt.file)
		}
	}
}

// TestBoardsLoadFirewallModules: init installs its packet filter on every
// board, containers or not.
func TestBoardsLoadFirewallModules(t *testing.T) {
	for _, b := range All() {
		loaded := map[string]bool{}
		for _, m := range b.Modules {
			loaded[m.Name] = true
		}
		for _, m := range firewallModules {
			if !loaded[m.Name] {
				t.Errorf("board %s does not load %s, which the firewall needs", b.Name, m.Name)
			}
		}
	}
}
