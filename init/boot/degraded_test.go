package boot

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/init/datapart"
)

// TestDegradedDataIsLoud: a /var in RAM is said on the console, in the
// ready line and in /run/edgegate/degraded/var as one line, which is what
// edgecore's node status reads.
func TestDegradedDataIsLoud(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	s := &System{Console: NewConsole(&out)}
	d := degraded{part: "var", reason: oneLine("data partition /dev/vda4: e2fsck -p was killed by signal killed\n(tried 3 times)")}
	s.degraded = append(s.degraded, d)
	if err := writeDegraded(dir, d); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "var"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "data partition /dev/vda4: e2fsck -p was killed by signal killed; (tried 3 times)\n"; string(got) != want {
		t.Errorf("degraded/var = %q, want %q", got, want)
	}
	if line := readyLine("1.0", "a", "qemu-arm64", s.degraded); line != "ready version=1.0 slot=a board=qemu-arm64 degraded=var" {
		t.Errorf("ready line %q", line)
	}
	if line := readyLine("1.0", "a", "qemu-arm64", nil); line != "ready version=1.0 slot=a board=qemu-arm64" {
		t.Errorf("ready line of a healthy gateway %q", line)
	}
	if !strings.HasPrefix(d.String(), "DEGRADED var: data partition /dev/vda4") {
		t.Errorf("console line %q", d)
	}
}

func TestMountedHow(t *testing.T) {
	tests := []struct {
		res  datapart.Result
		want string
	}{
		{datapart.Result{Attempts: 1}, "existing filesystem"},
		{datapart.Result{Attempts: 2}, "existing filesystem, on attempt 2"},
		{datapart.Result{Formatted: true, Attempts: 1}, "formatted on first boot"},
		{datapart.Result{Formatted: true, Resumed: true, Attempts: 1}, "formatted on first boot, after an interrupted format"},
		{datapart.Result{Formatted: true, Recreated: true, Kept: "lib/edgegate/recreated-20300101T000000Z", Salvaged: 3, Attempts: 1},
			"recreated; e2fsck's report and 3 salvaged files in /var/lib/edgegate/recreated-20300101T000000Z"},
		{datapart.Result{Formatted: true, Recreated: true, Attempts: 1}, "recreated; nothing could be kept"},
	}
	for _, tt := range tests {
		if got := mountedHow(tt.res); got != tt.want {
			t.Errorf("mountedHow(%+v) = %q, want %q", tt.res, got, tt.want)
		}
	}
}
