package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// edgegateBin builds the command once per test binary.
func edgegateBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgegate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

// TestBadInvocations: each mistake exits non-zero with a message naming it
// and leaves no output file.
func TestBadInvocations(t *testing.T) {
	bin := edgegateBin(t)
	dir := t.TempDir()
	badEdgecore := filepath.Join(dir, "edgecore.yaml")
	if err := os.WriteFile(badEdgecore, []byte("apiVersion: edgecore.config.kubeedge.io/v1alpha2\nkind: EdgeCore\ndatabase:\n  dataSource: /etc/kubeedge/edgecore.db\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
		out  string
	}{
		{"unknown board", []string{"build", "--board", "rpi9", "-o", filepath.Join(dir, "a.img")}, `unknown board "rpi9" (known: qemu-arm64, qemu-armv7)`, filepath.Join(dir, "a.img")},
		{"no output", []string{"build", "--board", "qemu-arm64"}, "no output file", ""},
		{"unwritable output", []string{"build", "--board", "qemu-arm64", "-o", "/proc/edgegate.img"}, "/proc/edgegate.img", "/proc/edgegate.img"},
		{"edgecore store off the data partition", []string{"build", "--edgecore-config", badEdgecore, "-o", filepath.Join(dir, "b.img")}, `database.dataSource: invalid value "/etc/kubeedge/edgecore.db": must be under /var`, filepath.Join(dir, "b.img")},
		{"edgecore config without edgecore", []string{"build", "--edgecore=false", "--edgecore-config", badEdgecore, "-o", filepath.Join(dir, "c.img")}, "--edgecore=false", filepath.Join(dir, "c.img")},
		{"missing edgecore config", []string{"build", "--edgecore-config", filepath.Join(dir, "none.yaml"), "-o", filepath.Join(dir, "d.img")}, "--edgecore-config", filepath.Join(dir, "d.img")},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, ""},
		{"unknown flag", []string{"build", "--bored", "x"}, "unknown flag: --bored", ""},
		{"missing image", []string{"qemu", "--image", filepath.Join(dir, "none.img"), "--board", "qemu-arm64", "--until", "x"}, "none.img", ""},
		{"bad boot path", []string{"qemu", "--image", "x.img", "--boot", "pxe"}, `boot path "pxe"`, ""},
		{"bad regexp", []string{"qemu", "--image", "x.img", "--until", "("}, "--until", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.Env = append(os.Environ(), "EDGEGATE_CACHE="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("edgegate %v succeeded:\n%s", tt.args, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Fatalf("edgegate %v said:\n%s\nwant it to mention %q", tt.args, out, tt.want)
			}
			if tt.out != "" {
				if _, err := os.Stat(tt.out); !os.IsNotExist(err) {
					t.Fatalf("output %s exists after a failure", tt.out)
				}
			}
		})
	}
}

func TestBoardsListsEveryBoard(t *testing.T) {
	out, err := exec.Command(edgegateBin(t), "boards").CombinedOutput()
	if err != nil {
		t.Fatalf("edgegate boards: %v: %s", err, out)
	}
	for _, want := range []string{"qemu-arm64  arm64", "qemu-armv7  armv7"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("boards output lacks %q:\n%s", want, out)
		}
	}
}

// TestBuildAndBootThroughCLI drives the commands a user types: build an
// image, boot it until the ready line, and time out on a line that never
// comes.
func TestBuildAndBootThroughCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and boots QEMU")
	}
	bin := edgegateBin(t)
	img := filepath.Join(t.TempDir(), "gw.img")
	out, err := exec.Command(bin, "build", "--board", "qemu-arm64", "--version", "cli-test", "-o", img).CombinedOutput()
	if err != nil {
		t.Fatalf("edgegate build: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "sha256 ") {
		t.Errorf("build output lacks the image hash:\n%s", out)
	}
	out, err = exec.Command(bin, "qemu", "--image", img, "--boot", "direct", "--until", `edgegate: ready version=cli-test`, "--timeout", "2m").CombinedOutput()
	if err != nil {
		t.Fatalf("edgegate qemu --until ready: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "edgegate: data: /dev/vda4 mounted") {
		t.Errorf("console output not printed:\n%s", out)
	}
	out, err = exec.Command(bin, "qemu", "--image", img, "--boot", "direct", "--until", "this line never appears", "--timeout", "15s").CombinedOutput()
	if err == nil {
		t.Fatalf("edgegate qemu --until with an impossible pattern succeeded:\n%s", out)
	}
	if !strings.Contains(string(out), "did not match") || !strings.Contains(string(out), "edgegate: ready") {
		t.Errorf("timeout output should name the pattern and show the console:\n%s", out)
	}
}
