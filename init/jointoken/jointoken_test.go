package jointoken

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.eyJh.eyJl.c2ln"

// TestHandover: the token on the boot partition ends up on /var at 0600 in
// a 0700 directory and is gone from the boot partition, unless /var does
// not persist; a malformed file is left where it is; no file is no work.
func TestHandover(t *testing.T) {
	tests := []struct {
		name       string
		boot       string // content of the boot partition's file; "" means absent
		persistent bool
		want       Outcome
		wantErr    string
		wantDest   string // "" means no file at dest
		keptOnBoot bool
	}{
		{"first boot", token + "\n", true, Moved, "", token + "\n", false},
		{"no newline", token, true, Moved, "", token + "\n", false},
		{"/var on tmpfs", token + "\n", false, Copied, "", token + "\n", true},
		{"no token", "", true, None, "", "", false},
		{"two words", token + " " + token + "\n", true, None, "holds 2 words", "", true},
		{"blank", "\n\n", true, None, "holds 0 words", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boot := t.TempDir()
			dest := filepath.Join(t.TempDir(), "var", "lib", "kubeedge", "bootstrap-edgecore.conf")
			src := filepath.Join(boot, BootFile)
			if tt.boot != "" {
				if err := os.WriteFile(src, []byte(tt.boot), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Handover(boot, dest, tt.persistent)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), src)) {
				t.Fatalf("err = %v, want %q naming %s", err, tt.wantErr, src)
			}
			if got != tt.want {
				t.Fatalf("outcome %v, want %v", got, tt.want)
			}
			_, statErr := os.Stat(src)
			if kept := statErr == nil; kept != tt.keptOnBoot && tt.boot != "" {
				t.Fatalf("token kept on the boot partition: %v, want %v", kept, tt.keptOnBoot)
			}
			data, err := os.ReadFile(dest)
			if tt.wantDest == "" {
				if !errors.Is(err, fs.ErrNotExist) {
					t.Fatalf("%s written (%v)", dest, err)
				}
				return
			}
			if err != nil || string(data) != tt.wantDest {
				t.Fatalf("%s = %q, %v; want %q", dest, data, err, tt.wantDest)
			}
			for p, want := range map[string]os.FileMode{dest: 0o600, filepath.Dir(dest): 0o700} {
				if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
					t.Errorf("%s mode %v (%v), want %v", p, st.Mode().Perm(), err, want)
				}
			}
		})
	}
}

// TestEraseOverwritesBeforeRemoving: the bytes the token occupied are
// zeros by the time the name goes, so a deleted-file scan of the boot
// partition finds nothing. Seen through a second name for the same file.
func TestEraseOverwritesBeforeRemoving(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, BootFile)
	if err := os.WriteFile(src, []byte(token), 0o644); err != nil {
		t.Fatal(err)
	}
	twin := filepath.Join(dir, "twin")
	if err := os.Link(src, twin); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	if _, err := Handover(dir, filepath.Join(dir, "dest"), true); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(twin)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Trim(string(data), "\x00") != "" || len(data) != len(token) {
		t.Fatalf("the token's bytes were not zeroed: %q", data)
	}
}
