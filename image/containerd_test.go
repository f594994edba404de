package image

import (
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/initramfs"
)

func TestDefaultConfigServices(t *testing.T) {
	for _, tt := range []struct {
		containerd bool
		want       []string
	}{
		{containerd: false, want: nil},
		{containerd: true, want: []string{"containerd"}},
	} {
		o := Options{Board: boards.QEMUArm64(), Containerd: tt.containerd}
		raw, err := o.defaultConfig()
		if err != nil {
			t.Fatal(err)
		}
		c, err := CheckConfig(raw)
		if err != nil {
			t.Fatalf("containerd=%v: default config does not validate: %v\n%s", tt.containerd, err, raw)
		}
		var got []string
		for _, s := range c.Services {
			got = append(got, s.Name)
		}
		if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
			t.Errorf("containerd=%v: services %v, want %v", tt.containerd, got, tt.want)
		}
	}
}

// TestAddContainerd puts the runtime into an initramfs; the binaries come
// from the build cache (minutes when cold).
func TestAddContainerd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles containerd, runc and CNI plugins when the cache is cold")
	}
	arc := initramfs.New()
	o := Options{Board: boards.QEMUArmv7(), Containerd: true, Cache: testCache(t), Progress: t.Logf}
	if err := o.addContainerd(t.Context(), arc); err != nil {
		t.Fatal(err)
	}
	want := append([]string{containerdBin, runcBin}, containerdLinks...)
	for _, n := range []string{"bridge", "host-local", "loopback", "portmap"} {
		want = append(want, cniBinDir+"/"+n)
	}
	for _, p := range want {
		if !arc.Has(p) {
			t.Errorf("%s missing from the initramfs", p)
		}
	}
	// A config naming the runtime's service passes the build's check
	// that every service executable is in the image.
	if err := o.addSystemFiles(arc); err != nil {
		t.Errorf("system files with containerd: %v", err)
	}
	if empty := initramfs.New(); (Options{Board: o.Board, Cache: o.Cache, Progress: t.Logf}).addContainerd(t.Context(), empty) != nil || empty.Has(containerdBin) {
		t.Error("Containerd false must add nothing")
	}
}
