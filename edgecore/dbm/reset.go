package dbm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Reset is a corrupt store moved aside so that an empty one could open.
type Reset struct {
	Store   string    // the store's path
	MovedTo string    // where the corrupt file is kept
	At      time.Time // when it was moved (UTC, to the second)
	Reason  string    // what proved it corrupt
}

// Names of moved-aside stores: <store>.corrupt-<UTC time>[-<n>], with the
// reason in <that name>.reason.
const (
	corruptInfix = ".corrupt-"
	stampFormat  = "20060102T150405Z"
	reasonSuffix = ".reason"
	maxReason    = 512
)

// resetCorrupt is Open's answer to a store found corrupt (cause). The
// corruption must hold up first: the whole file is read back under its
// lock (a read error means the disk is at fault, not the file, and nothing
// moves; a held lock means another process uses it), and a second open
// must fail the same way (a read error bbolt turned into "invalid" is
// gone by then). Only then is the file moved aside and an empty store
// opened in its place.
func resetCorrupt(path string, opts Options, cause error) (*DB, error) {
	if err := opts.readBack(path); err != nil {
		return nil, fmt.Errorf("database %s looked corrupt (%v), but reading it back failed, so nothing was moved: %w", path, cause, classify(err))
	}
	d, err := open(path, opts)
	switch {
	case err == nil:
		klog.Warningf("database %s opened on a second attempt; the first failed: %v", path, cause)
		return d, nil
	case !errors.Is(err, ErrCorrupt):
		return nil, err
	}
	r, err := moveAside(path, err, opts)
	if err != nil {
		return nil, err
	}
	d, err = open(path, opts)
	if err != nil {
		if !errors.Is(err, ErrLocked) {
			// What open managed to create holds nothing; left behind, it
			// would be taken for another corrupt store at the next start.
			_ = os.Remove(path)
		}
		return nil, fmt.Errorf("%w (the corrupt store was moved to %s)", err, r.MovedTo)
	}
	d.reset = &r
	klog.Errorf("database %s was corrupt (%s); moved it to %s and started with an empty store", path, r.Reason, r.MovedTo)
	return d, nil
}

// readBack reads all of path under an exclusive lock.
func readBack(path string) error {
	f, err := lockFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(io.Discard, f); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// lockFile opens path and takes the lock bbolt takes, without waiting.
func lockFile(path string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// moveAside renames the corrupt store, holding its lock, records why, and
// removes the oldest moved-aside stores beyond opts.KeepCorrupt.
func moveAside(path string, cause error, opts Options) (Reset, error) {
	f, err := lockFile(path)
	if err != nil {
		return Reset{}, fmt.Errorf("database %s is corrupt (%v), but it cannot be moved aside: %w", path, cause, err)
	}
	defer f.Close()
	at := opts.now().UTC().Truncate(time.Second)
	target, err := freeName(path, at)
	if err != nil {
		return Reset{}, err
	}
	if err := os.Rename(path, target); err != nil {
		return Reset{}, fmt.Errorf("database %s is corrupt (%v), but moving it aside failed: %w", path, cause, classify(err))
	}
	r := Reset{Store: path, MovedTo: target, At: at, Reason: reasonText(path, cause)}
	if err := os.WriteFile(target+reasonSuffix, []byte(r.Reason+"\n"), 0o600); err != nil {
		klog.Warningf("database %s: recording why it was moved: %v", target, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		klog.Warningf("database %s: %v", path, err)
	}
	prune(path, opts.KeepCorrupt, target)
	return r, nil
}

// freeName is the name for a store moved aside at at, numbered when an
// earlier one has it (two resets within a second).
func freeName(path string, at time.Time) (string, error) {
	base := path + corruptInfix + at.Format(stampFormat)
	for n := 0; n < 100; n++ {
		name := base
		if n > 0 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			return name, nil
		} else if err != nil {
			return "", fmt.Errorf("database %s: %w", path, err)
		}
	}
	return "", fmt.Errorf("database %s: no free name to move it aside as %s", path, base)
}

// reasonText is the cause in one bounded line, without the store's path
// that every message names already.
func reasonText(path string, cause error) string {
	s := strings.TrimPrefix(cause.Error(), "database "+path+": ")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason], "") + "…"
	}
	return s
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// prune removes the moved-aside stores of path beyond the newest keep,
// sparing the one just moved (justMoved) even if a clock set back makes it
// look the oldest.
func prune(path string, keep int, justMoved string) {
	resets, err := Resets(path)
	if err != nil {
		klog.Warningf("database %s: listing stores moved aside: %v", path, err)
		return
	}
	kept := 1 // justMoved
	for _, r := range resets {
		if r.MovedTo == justMoved {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		for _, name := range []string{r.MovedTo, r.MovedTo + reasonSuffix} {
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				klog.Warningf("database %s: removing an old corrupt store: %v", path, err)
			}
		}
	}
}

// Resets lists the stores moved aside from path, newest first.
func Resets(path string) ([]Reset, error) {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	type found struct {
		Reset
		seq int
	}
	var all []found
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), base+corruptInfix)
		if !ok || strings.HasSuffix(stamp, reasonSuffix) {
			continue
		}
		at, seq, ok := parseStamp(stamp)
		if !ok {
			continue
		}
		moved := filepath.Join(filepath.Clean(dir), e.Name())
		all = append(all, found{Reset{Store: path, MovedTo: moved, At: at, Reason: readReason(moved)}, seq})
	}
	sort.Slice(all, func(i, j int) bool {
		if !all[i].At.Equal(all[j].At) {
			return all[i].At.After(all[j].At)
		}
		return all[i].seq > all[j].seq
	})
	out := make([]Reset, len(all))
	for i, f := range all {
		out[i] = f.Reset
	}
	return out, nil
}

// LastReset is the newest store moved aside from path.
func LastReset(path string) (Reset, bool, error) {
	resets, err := Resets(path)
	if err != nil || len(resets) == 0 {
		return Reset{}, false, err
	}
	return resets[0], true, nil
}

func parseStamp(s string) (time.Time, int, bool) {
	stamp, num, numbered := strings.Cut(s, "-")
	at, err := time.Parse(stampFormat, stamp)
	if err != nil {
		return time.Time{}, 0, false
	}
	if !numbered {
		return at, 0, true
	}
	n, err := strconv.Atoi(num)
	return at, n, err == nil && n > 0
}

func readReason(moved string) string {
	data, err := os.ReadFile(moved + reasonSuffix)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
