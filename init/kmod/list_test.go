package kmod

import (
	"reflect"
	"strings"
	"testing"
)

func TestFormatParseRoundTrip(t *testing.T) {
	in := []Entry{
		{Path: "/lib/modules/6.1/kernel/drivers/virtio/virtio_mmio.ko", Required: true},
		{Path: "/lib/modules/6.1/kernel/fs/squashfs/squashfs.ko"},
	}
	out, err := Parse(Format(in))
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/a.ko optional\n", `line 1: unknown flag "optional"`},
		{"# c\n\nrelative.ko\n", `line 3: path "relative.ko" is not absolute`},
	}
	for _, tt := range tests {
		if _, err := Parse([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
}

func TestLoadReportsMissingFiles(t *testing.T) {
	rep, err := Load([]Entry{{Path: "/nonexistent/a.ko"}, {Path: "/nonexistent/b.ko", Required: true}})
	if err == nil || !strings.Contains(err.Error(), "required module /nonexistent/b.ko") {
		t.Fatalf("Load error = %v", err)
	}
	if f := rep.Failed(); len(f) != 2 || f[0].Name() != "a" {
		t.Fatalf("failed = %+v", f)
	}
}
