package ctr

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/init/containerd"
)

// writeJobs writes a jobs tar as the test's second disk would hold it,
// followed by the zero blocks a disk image has after the archive.
func writeJobs(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	buf.Write(make([]byte, 64<<10))
	p := filepath.Join(t.TempDir(), "jobs.img")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestJobs runs job lists against a socket nobody serves: every command
// that needs containerd fails, which is what "!"-lines expect.
func TestJobs(t *testing.T) {
	cwd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(cwd) })
	for _, tt := range []struct {
		name    string
		jobs    string
		wantErr bool
		want    []string
	}{
		{"refusals expected", "# comment\n\n!health\n!import missing.tar\n!bogus\n", false,
			[]string{"job 3 ok: !health: refused: ", "job 4 ok: !import missing.tar: refused: import: open missing.tar", "job 5 ok: !bogus: refused: usage:", "jobs done: 0 failed"}},
		{"failures counted, later lines still run", "health\n!import data.txt\n", true,
			[]string{"job 1 failed: health: containerd at ", "job 2 ok: !import data.txt: refused: ", "jobs done: 1 failed"}},
		{"a bad argument is a refusal too", "!wait-healthy notanumber\n", false,
			[]string{"job 1 ok: !wait-healthy notanumber: refused: wait-healthy: \"notanumber\" is not a number of seconds"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := containerd.Default()
			s.Socket = filepath.Join(t.TempDir(), "none.sock")
			var out, errOut bytes.Buffer
			tool := Tool{Settings: s, Out: &out, Err: &errOut}
			dev := writeJobs(t, map[string]string{JobList: tt.jobs, "data.txt": "not an image archive"})
			err := tool.Run(context.Background(), []string{"jobs", dev})
			if (err != nil) != tt.wantErr {
				t.Fatalf("jobs = %v, want error %v\n%s", err, tt.wantErr, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestJobsBadDevice(t *testing.T) {
	tool := Tool{Settings: containerd.Default(), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}
	garbage := filepath.Join(t.TempDir(), "garbage")
	os.WriteFile(garbage, bytes.Repeat([]byte("x"), 4096), 0o644)
	noList := writeJobs(t, map[string]string{"other": "x"})
	for _, tt := range []struct{ dev, want string }{
		{filepath.Join(t.TempDir(), "absent"), "no such file"},
		{garbage, "garbage"},
		{noList, "jobs: open"},
	} {
		err := tool.Run(context.Background(), []string{"jobs", tt.dev})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("jobs %s = %v, want an error naming %q", tt.dev, err, tt.want)
		}
	}
}
