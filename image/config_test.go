package image

import (
	"strings"
	"testing"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/init/config"
)

func TestDefaultConfigIsValidAndUsesBoardInterface(t *testing.T) {
	b := boards.QEMUArm64()
	b.Net = "end0"
	raw, err := DefaultConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(raw)
	if err != nil {
		t.Fatalf("default config does not validate: %v\n%s", err, raw)
	}
	if c.Network.Interface != "end0" || c.Network.Mode != config.ModeDHCP || c.Hostname != "edgegate" || len(c.Services) != 0 {
		t.Errorf("default config = %+v", c)
	}
}

func TestAddSystemFiles(t *testing.T) {
	svc := "services:\n- name: hello\n  path: /usr/bin/hello\n"
	tests := []struct {
		name    string
		config  string
		extra   []ExtraFile
		wantErr string // "" means success
	}{
		{"default", "", nil, ""},
		{"service present", svc, []ExtraFile{{Path: "/usr/bin/hello", Data: []byte("x"), Mode: 0o755}}, ""},
		{"service missing", svc, nil, "services[0].path: /usr/bin/hello is not in the image"},
		{"bad field", "hostname: -bad-\n", nil, "hostname:"},
		{"unknown field", "hostnam: x\n", nil, "unknown field"},
		{"relative extra", "", []ExtraFile{{Path: "usr/bin/x"}}, "must be absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Board: boards.QEMUArm64(), Extra: tt.extra, Progress: func(string, ...any) {}}
			if tt.config != "" {
				o.Config = []byte(tt.config)
			}
			arc := initramfs.New()
			err := o.addSystemFiles(arc)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !arc.Has(config.ImagePath) {
				t.Errorf("%s not in the archive", config.ImagePath)
			}
			for _, f := range tt.extra {
				if !arc.Has(f.Path) {
					t.Errorf("%s not in the archive", f.Path)
				}
			}
		})
	}
}
