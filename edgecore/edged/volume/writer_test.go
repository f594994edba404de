package volume

import (
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestConfigMapUpdateIsAtomic updates a configmap under a mounted volume and
// checks the kubelet layout: the new content is in a new timestamped
// directory that ..data was switched to, the old files were never modified
// in place (an open reader keeps the old bytes), vanished keys lose their
// link, new keys get one, and the old directory is gone.
func TestConfigMapUpdateIsAtomic(t *testing.T) {
	m := newManager(t)
	cms := map[string]*v1.ConfigMap{testNS + "/cfg": configMap("cfg", map[string]string{"a": "one", "gone": "x"}, nil)}
	vol := v1.Volume{Name: "config", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
		LocalObjectReference: v1.LocalObjectReference{Name: "cfg"},
	}}}
	mount, err := setupOne(t, m, fakeSources{configMaps: cms}, vol)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	dir := mount.HostPath
	before := readLink(t, filepath.Join(dir, dataLink))
	for _, name := range []string{"a", "gone"} {
		if got := readLink(t, filepath.Join(dir, name)); got != "..data/"+name {
			t.Errorf("%s -> %q, want ..data/%s", name, got, name)
		}
	}
	reader, err := os.Open(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()

	cms[testNS+"/cfg"] = configMap("cfg", map[string]string{"a": "two", "new": "y"}, nil)
	if _, err := setupOne(t, m, fakeSources{configMaps: cms}, vol); err != nil {
		t.Fatalf("Setup after update: %v", err)
	}

	after := readLink(t, filepath.Join(dir, dataLink))
	if after == before || !isTimestampDir(after) {
		t.Errorf("..data -> %q after update, before %q: want a new timestamped directory", after, before)
	}
	if want := map[string]string{"a": "two", "new": "y"}; !maps.Equal(visible(t, dir), want) {
		t.Errorf("files after update = %q, want %q", visible(t, dir), want)
	}
	if old, err := io.ReadAll(reader); err != nil || string(old) != "one" {
		t.Errorf("reader opened before the update read %q, %v; want the old content", old, err)
	}
	if got := entries(t, dir); !slices.Equal(got, sorted(dataLink, after, "a", "new")) {
		t.Errorf("volume directory holds %q, want ..data, %s, a, new", got, after)
	}
}

// TestWriteAtomic covers the writer's recovery and comparison rules.
func TestWriteAtomic(t *testing.T) {
	base := payload{"a": {data: []byte("A"), mode: 0o644}, "d/b": {data: []byte("B"), mode: 0o600}}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // after a first write of base
		write   payload
		rewrite bool // a new content directory is expected
		want    []string
	}{{
		name:    "same content changes nothing",
		write:   base,
		rewrite: false,
	}, {
		name:    "mode change alone is written",
		write:   payload{"a": {data: []byte("A"), mode: 0o600}, "d/b": {data: []byte("B"), mode: 0o600}},
		rewrite: true,
	}, {
		name:    "removed file is written",
		write:   payload{"a": {data: []byte("A"), mode: 0o644}},
		rewrite: true,
		want:    []string{"a"},
	}, {
		name: "truncated file (power loss) is rewritten",
		prepare: func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, dataLink, "d", "b"), 0); err != nil {
				t.Fatal(err)
			}
		},
		write:   base,
		rewrite: true,
	}, {
		name: "dangling ..data is rewritten",
		prepare: func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, readLink(t, filepath.Join(dir, dataLink)))); err != nil {
				t.Fatal(err)
			}
		},
		write:   base,
		rewrite: true,
	}, {
		name: "leftovers of an interrupted write are removed, foreign entries kept",
		prepare: func(t *testing.T, dir string) {
			for _, d := range []string{"..2020_01_02_03_04_05.42", "..nested", "mountpoint"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("..2020_01_02_03_04_05.42", filepath.Join(dir, newDataLink)); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("..data/stale", filepath.Join(dir, "stale")); err != nil {
				t.Fatal(err)
			}
		},
		write:   base,
		rewrite: false,
		want:    []string{"..nested", "a", "d", "mountpoint"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := writeAtomic(dir, base, nil); err != nil {
				t.Fatalf("first write: %v", err)
			}
			first := readLink(t, filepath.Join(dir, dataLink))
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			if err := writeAtomic(dir, tc.write, nil); err != nil {
				t.Fatalf("second write: %v", err)
			}
			current := readLink(t, filepath.Join(dir, dataLink))
			if rewritten := current != first; rewritten != tc.rewrite {
				t.Errorf("rewritten = %v, want %v", rewritten, tc.rewrite)
			}
			want := tc.want
			if want == nil {
				want = []string{"a", "d"}
			}
			want = sorted(append([]string{dataLink, current}, want...)...)
			if got := entries(t, dir); !slices.Equal(got, want) {
				t.Errorf("entries = %q, want %q", got, want)
			}
			for rel, f := range tc.write {
				if got := modeAt(t, dir, rel); got != f.mode {
					t.Errorf("mode of %s = %v, want %v", rel, got, f.mode)
				}
			}
			wantFiles := make(map[string]string)
			for rel, f := range tc.write {
				wantFiles[rel] = string(f.data)
			}
			if got := visible(t, dir); !maps.Equal(got, wantFiles) {
				t.Errorf("files = %q, want %q", got, wantFiles)
			}
		})
	}
}

func TestWriteAtomicConflictKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	if err := writeAtomic(dir, payload{"a": {data: []byte("old"), mode: 0o644}}, nil); err != nil {
		t.Fatal(err)
	}
	before := readLink(t, filepath.Join(dir, dataLink))
	bad := payload{"a": {data: []byte("file"), mode: 0o644}, "a/b": {data: []byte("under a file"), mode: 0o644}}
	requireErrContains(t, writeAtomic(dir, bad, nil), "item a/b")
	if after := readLink(t, filepath.Join(dir, dataLink)); after != before {
		t.Errorf("..data moved to %q on a failed write", after)
	}
	if got := entries(t, dir); !slices.Equal(got, sorted(dataLink, before, "a")) {
		t.Errorf("entries after a failed write = %q", got)
	}
	if got := visible(t, dir); got["a"] != "old" {
		t.Errorf("a = %q after a failed write, want old", got["a"])
	}
}

func TestIsTimestampDir(t *testing.T) {
	made, err := os.MkdirTemp(t.TempDir(), time.Now().UTC().Format(tsLayout))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		filepath.Base(made):         true,
		"..2016_02_01_15_04_05.123": true,
		"..data":                    false,
		"..data_tmp":                false,
		"..2016_02_01_15_04_05.":    false,
		"..nested":                  false,
		"2016_02_01_15_04_05.1":     false,
	} {
		if got := isTimestampDir(name); got != want {
			t.Errorf("isTimestampDir(%q) = %v, want %v", name, got, want)
		}
	}
}

func readLink(t *testing.T, p string) string {
	t.Helper()
	target, err := os.Readlink(p)
	if err != nil {
		t.Fatalf("readlink: %v", err)
	}
	return target
}

// entries lists a directory, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func sorted(names ...string) []string {
	return slices.Sorted(slices.Values(names))
}
