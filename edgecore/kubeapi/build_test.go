package kubeapi

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPruneCache(t *testing.T) {
	dir := t.TempDir()
	const (
		keep     = "0123456789abcdef0123456789abcdef"
		old      = "fedcba9876543210fedcba9876543210"
		running  = old + partialSuffix + "1"
		stale    = old + partialSuffix + "2"
		stranger = "notes"
	)
	for _, name := range []string{keep, old, running, stale, stranger} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, stale), day, day); err != nil {
		t.Fatal(err)
	}
	pruneCache(dir, keep)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range ents {
		left = append(left, e.Name())
	}
	if want := []string{keep, running, stranger}; !slices.Equal(left, want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

func TestLdflagsStampVersion(t *testing.T) {
	flags := strings.Fields(ldflags())
	for _, want := range []string{"k8s.io/component-base/version.gitVersion=" + Version,
		"k8s.io/component-base/version.gitMajor=1", "k8s.io/component-base/version.gitMinor=32"} {
		if !slices.Contains(flags, want) {
			t.Errorf("ldflags %q lack %q", flags, want)
		}
	}
}

// TestBuildModulePins: the nested module builds the Version this package
// claims, with the staging modules of the same release.
func TestBuildModulePins(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("build", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	staging := "v0" + strings.TrimPrefix(strings.TrimPrefix(Version, "v"), "1") // v1.32.13 -> v0.32.13
	var kubernetes, replaced bool
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "k8s.io/kubernetes" {
			kubernetes = true
			if f[1] != Version {
				t.Errorf("build/go.mod requires k8s.io/kubernetes %s, want %s", f[1], Version)
			}
		}
		if len(f) == 4 && f[1] == "=>" && strings.HasPrefix(f[0], "k8s.io/") {
			replaced = true
			if f[2] != f[0] || f[3] != staging {
				t.Errorf("build/go.mod: %s, want %s => %s %s", strings.TrimSpace(line), f[0], f[0], staging)
			}
		}
	}
	if !kubernetes || !replaced {
		t.Errorf("build/go.mod lacks the k8s.io/kubernetes requirement or the staging replacements")
	}
}
