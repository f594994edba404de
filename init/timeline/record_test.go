package timeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNewBoot(t *testing.T) {
	at := time.Date(2026, 11, 29, 6, 42, 0, 0, time.UTC)
	b := NewBoot("id-1", at, []Step{{Name: "kernel", End: ms(1534), Done: true}, {Name: "cloud", Start: ms(4000)}}, nil)
	if b.Complete || len(b.Steps) != 2 || *b.Steps[0].EndMs != 1534 || b.Steps[1].EndMs != nil {
		t.Errorf("boot with a running step = %+v", b)
	}
	b = NewBoot("id-2", at, []Step{{Name: "kernel", End: ms(1534), Done: true}}, nil)
	if !b.Complete {
		t.Errorf("boot with every step done = %+v, want complete", b)
	}
	b = NewBoot("id-3", at, []Step{{Name: "kernel", End: ms(1534), Done: true}}, []string{"service:edgecore"})
	if b.Complete {
		t.Errorf("boot with a missing step = %+v, want incomplete", b)
	}
}

func boot(id string) Boot {
	return NewBoot(id, time.Unix(0, 0).UTC(), []Step{{Name: "kernel", End: ms(1000), Done: true}}, nil)
}

func TestAppendKeepsTheNewestBoots(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lib", "edgegate", "boot-timeline.json") // directories made
	for _, id := range []string{"1", "2", "3", "4"} {
		if aside, err := Append(path, boot(id), 3); err != nil || aside != "" {
			t.Fatalf("Append %s: %q, %v", id, aside, err)
		}
	}
	h, err := ReadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range h.Boots {
		ids = append(ids, b.BootID)
	}
	if strings.Join(ids, ",") != "2,3,4" {
		t.Errorf("boots kept: %v, want the newest 3, oldest first", ids)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// A history that is not JSON (a torn or foreign file) is kept aside, not
// overwritten, and a new history is begun.
func TestAppendKeepsAnUnreadableHistoryAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot-timeline.json")
	if err := os.WriteFile(path, []byte("{\"boots\": [ torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	aside, err := Append(path, boot("new"), DefaultKeep)
	if err != nil || aside != path+".unreadable" {
		t.Fatalf("Append = %q, %v; want the old file kept aside", aside, err)
	}
	if old, _ := os.ReadFile(aside); string(old) != "{\"boots\": [ torn" {
		t.Errorf("kept file holds %q", old)
	}
	h, err := ReadHistory(path)
	if err != nil || len(h.Boots) != 1 || h.Boots[0].BootID != "new" {
		t.Errorf("new history = %+v, %v", h, err)
	}
}

// A history that cannot be read (here: a directory in its place) is an
// error and is left as it is.
func TestAppendLeavesAHistoryItCannotRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "boot-timeline.json")
	if err := os.MkdirAll(filepath.Join(path, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Append(path, boot("new"), DefaultKeep); err == nil || !strings.Contains(err.Error(), "boot timeline") {
		t.Fatalf("Append over a directory = %v, want an error naming the boot timeline", err)
	}
	if _, err := os.Stat(filepath.Join(path, "x")); err != nil {
		t.Errorf("the unreadable history was touched: %v", err)
	}
}
