package dm

import (
	"encoding/binary"
	"strings"
	"testing"
)

// The layouts below are struct dm_ioctl and struct dm_target_spec of
// <linux/dm-ioctl.h>; the kernel reads them byte for byte.

func TestRequestLayout(t *testing.T) {
	b := request("edgegate-root", 1, []byte("payload"), 1)
	e := binary.NativeEndian
	for i, want := range []uint32{4, 0, 0} {
		if got := e.Uint32(b[4*i:]); got != want {
			t.Errorf("version[%d] = %d, want %d", i, got, want)
		}
	}
	fields := []struct {
		name     string
		off      int
		want     uint32
		wantDesc string
	}{
		{"data_size", 12, bufferSize, "the whole buffer"},
		{"data_start", 16, 312, "right after the 312-byte header"},
		{"target_count", 20, 1, ""},
		{"flags", 28, 1, "DM_READONLY_FLAG"},
	}
	for _, f := range fields {
		if got := e.Uint32(b[f.off:]); got != f.want {
			t.Errorf("%s = %d, want %d %s", f.name, got, f.want, f.wantDesc)
		}
	}
	if got := string(b[48 : 48+len("edgegate-root")+1]); got != "edgegate-root\x00" {
		t.Errorf("name field = %q", got)
	}
	if got := string(b[312 : 312+7]); got != "payload" {
		t.Errorf("payload at data_start = %q", got)
	}
	long := request(strings.Repeat("n", 200), 0, nil, 0)
	if long[48+127] != 0 {
		t.Error("a long name must keep the name field NUL-terminated")
	}
}

func TestTargetSpec(t *testing.T) {
	b, err := targetSpec(Target{Start: 0, Length: 1032, Type: "verity", Params: "1 /dev/loop0"})
	if err != nil {
		t.Fatal(err)
	}
	e := binary.NativeEndian
	if len(b)%8 != 0 || len(b) != 40+16 {
		t.Errorf("spec of %d bytes, want 56: 40 + params and NUL padded to 8", len(b))
	}
	if e.Uint64(b[8:]) != 1032 || e.Uint32(b[20:]) != uint32(len(b)) {
		t.Errorf("length %d next %d", e.Uint64(b[8:]), e.Uint32(b[20:]))
	}
	if got := string(b[24:30]); got != "verity" || b[30] != 0 {
		t.Errorf("target_type = %q", b[24:40])
	}
	if got := string(b[40:53]); got != "1 /dev/loop0\x00" {
		t.Errorf("params = %q", got)
	}
	if _, err := targetSpec(Target{Type: "a-type-name-too-long"}); err == nil {
		t.Error("a type name of 16 bytes or more must be refused")
	}
	if _, err := targetSpec(Target{Type: "linear", Params: strings.Repeat("x", bufferSize)}); err == nil {
		t.Error("a table larger than the request buffer must be refused")
	}
}

func TestParseStatus(t *testing.T) {
	reply := func(targets, flags uint32, status string) []byte {
		b := request("r", 0, nil, 0)
		e := binary.NativeEndian
		e.PutUint32(b[20:], targets)
		e.PutUint32(b[28:], flags)
		copy(b[312+40:], status+"\x00")
		return b
	}
	tests := []struct {
		name    string
		reply   []byte
		want    string
		wantErr string
	}{
		{"verified", reply(1, 0, "V"), "V", ""},
		{"corrupt", reply(1, 0, "C"), "C", ""},
		{"buffer full", reply(1, 0x100, "V"), "", "does not fit"},
		{"no table", reply(0, 0, ""), "", "no active table"},
	}
	for _, tt := range tests {
		got, err := parseStatus(tt.reply)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: %q, %v; want an error with %q", tt.name, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

func TestPath(t *testing.T) {
	if got := (Device{Minor: 3}).Path(); got != "/dev/dm-3" {
		t.Errorf("Path = %q", got)
	}
}
