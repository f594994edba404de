package dbm

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func openTemp(t *testing.T, tables ...string) *DB {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "sub", "edgecore.db"), Options{Tables: tables})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func TestTableOperations(t *testing.T) {
	d := openTemp(t, "meta", "other")
	steps := []struct {
		name    string
		op      func(tx *Tx) error
		wantErr error
	}{
		{"put", func(tx *Tx) error { return tx.Put("meta", "default/pod/a", []byte("A")) }, nil},
		{"put second", func(tx *Tx) error { return tx.Put("meta", "default/pod/b", []byte("B")) }, nil},
		{"put other table", func(tx *Tx) error { return tx.Put("other", "default/pod/a", []byte("X")) }, nil},
		{"replace", func(tx *Tx) error { return tx.Put("meta", "default/pod/b", []byte("B2")) }, nil},
		{"put configmap", func(tx *Tx) error { return tx.Put("meta", "default/configmap/c", []byte("C")) }, nil},
		{"delete missing is fine", func(tx *Tx) error { return tx.Delete("meta", "nope") }, nil},
		{"missing table", func(tx *Tx) error { return tx.Put("ghost", "k", nil) }, ErrNoTable},
		{"error rolls back", func(tx *Tx) error {
			_ = tx.Put("meta", "default/pod/rolled", []byte("R"))
			return errors.New("abort")
		}, nil},
	}
	for _, s := range steps {
		err := d.Update(s.op)
		if s.wantErr != nil && !errors.Is(err, s.wantErr) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
	}
	err := d.View(func(tx *Tx) error {
		var got []string
		if err := tx.ForEach("meta", "default/pod/", func(k string, v []byte) error {
			got = append(got, k+"="+string(v))
			return nil
		}); err != nil {
			return err
		}
		if fmt.Sprint(got) != "[default/pod/a=A default/pod/b=B2]" {
			return fmt.Errorf("pods = %v", got)
		}
		v, ok, err := tx.Get("other", "default/pod/a")
		if err != nil || !ok || string(v) != "X" {
			return fmt.Errorf("other table: %q %v %v", v, ok, err)
		}
		if _, ok, _ := tx.Get("meta", "default/pod/rolled"); ok {
			return errors.New("failed transaction was committed")
		}
		n, err := tx.Count("meta")
		if err != nil || n != 3 {
			return fmt.Errorf("count = %d, %v", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLockedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.db")
	d, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	start := time.Now()
	_, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second open: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("lock wait not bounded")
	}
}

func TestCorruptFile(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, path string)
	}{
		{"not a database", func(t *testing.T, path string) {
			writeFile(t, path, []byte(strings.Repeat("SQLite format 3\x00", 1024)))
		}},
		{"meta pages zeroed", func(t *testing.T, path string) {
			makeDB(t, path)
			overwrite(t, path, 0, make([]byte, 2*os.Getpagesize()))
		}},
		{"data page garbage", func(t *testing.T, path string) {
			makeDB(t, path)
			st, _ := os.Stat(path)
			junk := []byte(strings.Repeat("\xde\xad\xbe\xef", int(st.Size()-int64(2*os.Getpagesize()))/4))
			overwrite(t, path, int64(2*os.Getpagesize()), junk)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edgecore.db")
			tt.corrupt(t, path)
			_, err := Open(path, Options{Tables: []string{"meta"}})
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Open = %v, want ErrCorrupt naming the file", err)
			}
		})
	}
}

func makeDB(t *testing.T, path string) {
	d, err := Open(path, Options{Tables: []string{"meta"}})
	if err != nil {
		t.Fatal(err)
	}
	// Two transactions: the table spans several pages under a branch, and
	// the second leaves freed pages behind.
	for round := 0; round < 2; round++ {
		if err := d.Update(func(tx *Tx) error {
			for i := 0; i < 200; i++ {
				if err := tx.Put("meta", fmt.Sprint("k", i), make([]byte, 300+round)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	_ = d.Close()
}

func writeFile(t *testing.T, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func overwrite(t *testing.T, path string, off int64, b []byte) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentModules(t *testing.T) {
	d := openTemp(t, "meta")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := d.Batch(func(tx *Tx) error { return tx.Put("meta", fmt.Sprintf("w%d/%d", w, i), []byte("v")) }); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := d.View(func(tx *Tx) error { return tx.ForEach("meta", "", func(string, []byte) error { return nil }) }); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	_ = d.View(func(tx *Tx) error {
		if n, _ := tx.Count("meta"); n != 200 {
			t.Errorf("count = %d, want 200", n)
		}
		return nil
	})
}

// TestDiskFull fills a small tmpfs and checks the error is clear and that
// everything committed before is still readable after reopening.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=512k"); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v", err)
	}
	defer syscall.Unmount(dir, 0)
	path := filepath.Join(dir, "edgecore.db")
	d, err := Open(path, Options{Tables: []string{"meta"}})
	if err != nil {
		t.Fatal(err)
	}
	committed := 0
	for ; committed < 10000; committed++ {
		err = d.Update(func(tx *Tx) error { return tx.Put("meta", fmt.Sprint("k", committed), make([]byte, 4096)) })
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), path) {
		t.Fatalf("after %d writes: err = %v, want ErrDiskFull naming the file", committed, err)
	}
	_ = d.Close()
	d, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen after disk full: %v", err)
	}
	defer d.Close()
	_ = d.View(func(tx *Tx) error {
		for i := 0; i < committed; i++ {
			if _, ok, _ := tx.Get("meta", fmt.Sprint("k", i)); !ok {
				t.Fatalf("committed key k%d lost", i)
			}
		}
		return nil
	})
}

const crashEnv = "EDGEGATE_DBM_CRASH_WRITER"

// TestCrashKeepsAcknowledgedWrites runs a writer process, kills it with
// SIGKILL in the middle of writing, reopens the file and checks that every
// write the writer acknowledged is there.
func TestCrashKeepsAcknowledgedWrites(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		return // inside the writer: handled by TestMain
	}
	path := filepath.Join(t.TempDir(), "edgecore.db")
	for round := 0; round < 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeepsAcknowledgedWrites$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path, "EDGEGATE_DBM_CRASH_ROUND="+strconv.Itoa(round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := readAcks(t, out, 150+round*37)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		d, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		err = d.View(func(tx *Tx) error {
			for _, k := range acked {
				if _, ok, err := tx.Get("meta", k); err != nil || !ok {
					return fmt.Errorf("acknowledged write %s missing after kill -9 (%v)", k, err)
				}
			}
			return nil
		})
		_ = d.Close()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

func readAcks(t *testing.T, r interface{ Read([]byte) (int, error) }, n int) []string {
	sc := bufio.NewScanner(r)
	var acked []string
	for len(acked) < n && sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, k)
		}
	}
	if len(acked) < n {
		t.Fatalf("writer stopped after %d acks: %v", len(acked), sc.Err())
	}
	// Read a few more so the kill lands while writes are in flight.
	for i := 0; i < 5 && sc.Scan(); i++ {
		if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, k)
		}
	}
	return acked
}

// crashWriter writes forever, printing "ack <key>" after each commit.
func crashWriter(path, round string) {
	d, err := Open(path, Options{Tables: []string{"meta"}, LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		key := fmt.Sprintf("r%s/%06d", round, i)
		if err := d.Update(func(tx *Tx) error {
			if err := tx.Put("meta", key, []byte(strings.Repeat("v", 100+i%900))); err != nil {
				return err
			}
			// Scratch rows come and go so the free list stays busy.
			if err := tx.Put("meta", fmt.Sprintf("scratch/%06d", i), make([]byte, 2000)); err != nil {
				return err
			}
			return tx.Delete("meta", fmt.Sprintf("scratch/%06d", i-3))
		}); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(2)
		}
		fmt.Fprintln(w, "ack", key)
		_ = w.Flush()
	}
}

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		crashWriter(path, os.Getenv("EDGEGATE_DBM_CRASH_ROUND"))
	}
	if path := os.Getenv(holdLockEnv); path != "" {
		lockHolder(path)
	}
	if path := os.Getenv(openEnv); path != "" {
		openOnce(path)
	}
	os.Exit(m.Run())
}

// Opening a store whose tables exist commits nothing, so a node whose
// data partition is full still starts: bbolt's commit writes a meta and a
// freelist page even when nothing changed.
func TestOpenWritesNothingWhenTablesExist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgecore.db")
	txid := func() int {
		d, err := Open(path, Options{Tables: []string{"meta", "other"}})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		id := 0
		_ = d.View(func(tx *Tx) error { id = tx.tx.ID(); return nil })
		return id
	}
	first := txid()
	if again := txid(); again != first {
		t.Fatalf("reopening committed a transaction (txid %d → %d)", first, again)
	}
}
