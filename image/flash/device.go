package flash

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Host is where the device checks look: the system's sysfs, its mount
// table and the paths whose disks hold the running system. Tests point
// it at a stand-in tree.
type Host struct {
	// Sys is the sysfs root, normally /sys.
	Sys string
	// MountInfo is the mount table, normally /proc/self/mountinfo.
	MountInfo string
	// System are the paths whose disks must never be flashed: /, /boot
	// and the running executable.
	System []string
}

// RealHost is the machine edgegate runs on.
func RealHost() Host {
	sys := []string{"/", "/boot", "/boot/efi"}
	if exe, err := os.Executable(); err == nil {
		sys = append(sys, exe)
	}
	return Host{Sys: "/sys", MountInfo: "/proc/self/mountinfo", System: sys}
}

// checkDevice refuses a block device (rdev) that is a partition, holds
// the running system, is mounted (it or any partition or device stacked
// on it), or is a fixed disk while force is off.
func (h Host) checkDevice(path string, rdev uint64, force bool) error {
	dir, err := h.blockDir(rdev)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	name := filepath.Base(dir)
	if isFile(filepath.Join(dir, "partition")) {
		return fmt.Errorf("%w: %s is a partition of /dev/%s; flash the whole disk", ErrPartition, path, filepath.Base(filepath.Dir(dir)))
	}
	system, err := h.systemDisks()
	if err != nil {
		return err
	}
	if what, ok := system[dir]; ok {
		return fmt.Errorf("%w: %s (/dev/%s) holds %s", ErrSystemDisk, path, name, what)
	}
	if err := h.checkMounted(path, dir); err != nil {
		return err
	}
	if kind := h.hotplug(dir); kind == "" && !force {
		return fmt.Errorf("%w: %s (/dev/%s) is a fixed disk, not a card or USB drive; pass --force if it really is the one to overwrite", ErrNotRemovable, path, name)
	}
	return nil
}

// blockDir is the sysfs directory of the block device rdev.
func (h Host) blockDir(rdev uint64) (string, error) {
	link := filepath.Join(h.Sys, "dev", "block", fmt.Sprintf("%d:%d", unix.Major(rdev), unix.Minor(rdev)))
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", fmt.Errorf("block device %d:%d unknown to sysfs: %w", unix.Major(rdev), unix.Minor(rdev), err)
	}
	return dir, nil
}

// checkMounted refuses a disk any of whose devices (the disk, its
// partitions, what is stacked on them such as dm-crypt or LVM) is
// mounted.
func (h Host) checkMounted(path, dir string) error {
	devs := map[string]string{} // "maj:min" → device name
	h.family(dir, devs, 0)
	mounts, err := readMountInfo(h.MountInfo)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		if name, ok := devs[m.dev]; ok {
			return fmt.Errorf("%w: %s: /dev/%s is mounted on %s; unmount it first", ErrMounted, path, name, m.point)
		}
	}
	return nil
}

// family adds dir's device, its partitions and their holders to devs.
func (h Host) family(dir string, devs map[string]string, depth int) {
	if depth > 8 { // sysfs holder chains are short; a loop would be a bug
		return
	}
	if dev, err := readLine(filepath.Join(dir, "dev")); err == nil {
		devs[dev] = filepath.Base(dir)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		sub := filepath.Join(dir, e.Name())
		if e.IsDir() && isFile(filepath.Join(sub, "partition")) {
			h.family(sub, devs, depth+1)
		}
	}
	holders, _ := os.ReadDir(filepath.Join(dir, "holders"))
	for _, e := range holders {
		if hd, err := filepath.EvalSymlinks(filepath.Join(dir, "holders", e.Name())); err == nil {
			h.family(hd, devs, depth+1)
		}
	}
}

// systemDisks maps the sysfs directory of every disk holding one of the
// System paths to that path: through partitions, device-mapper and md
// (their slaves) and loop devices (their backing files).
func (h Host) systemDisks() (map[string]string, error) {
	mounts, err := readMountInfo(h.MountInfo)
	if err != nil {
		return nil, err
	}
	disks := map[string]string{}
	for _, p := range h.System {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue // no /boot, say
		}
		dev := st.Dev
		if unix.Major(dev) == 0 {
			// btrfs and other file systems report an anonymous device;
			// the mount table names the real one.
			if dev = h.mountSource(mounts, dev); dev == 0 {
				continue
			}
		}
		h.disksOf(dev, p, disks, 0)
	}
	return disks, nil
}

func (h Host) disksOf(dev uint64, what string, disks map[string]string, depth int) {
	dir, err := h.blockDir(dev)
	if err != nil || depth > 8 {
		return
	}
	h.diskTree(dir, what, disks, depth)
}

func (h Host) diskTree(dir, what string, disks map[string]string, depth int) {
	if isFile(filepath.Join(dir, "partition")) {
		dir = filepath.Dir(dir)
	}
	if _, seen := disks[dir]; seen || depth > 8 {
		return
	}
	disks[dir] = what
	slaves, _ := os.ReadDir(filepath.Join(dir, "slaves"))
	for _, e := range slaves {
		if sd, err := filepath.EvalSymlinks(filepath.Join(dir, "slaves", e.Name())); err == nil {
			h.diskTree(sd, what, disks, depth+1)
		}
	}
	if backing, err := readLine(filepath.Join(dir, "loop", "backing_file")); err == nil {
		var st unix.Stat_t
		if unix.Stat(backing, &st) == nil {
			h.disksOf(st.Dev, what, disks, depth+1)
		}
	}
}

// mountSource is the device the mount table names as the source of the
// mount whose device is dev, or 0.
func (h Host) mountSource(mounts []mount, dev uint64) uint64 {
	key := fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev))
	for _, m := range mounts {
		if m.dev != key || !strings.HasPrefix(m.source, "/dev/") {
			continue
		}
		var st unix.Stat_t
		if unix.Stat(m.source, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
			return st.Rdev
		}
	}
	return 0
}

// hotplug names what makes the disk at dir safe to flash without
// --force — "removable", "usb", "sd card" or "loop" — or "" for a fixed
// disk. USB disks and SD cards in a built-in slot often report
// removable=0, hence the bus checks; a loop device over a regular file
// only ever writes that file.
func (h Host) hotplug(dir string) string {
	if v, _ := readLine(filepath.Join(dir, "removable")); v == "1" {
		return "removable"
	}
	if strings.Contains(dir, "/usb") {
		return "usb"
	}
	if t, _ := readLine(filepath.Join(dir, "device", "type")); t == "SD" {
		return "sd card"
	}
	if backing, err := readLine(filepath.Join(dir, "loop", "backing_file")); err == nil {
		if st, err := os.Stat(strings.TrimSuffix(backing, " (deleted)")); err == nil && st.Mode().IsRegular() {
			return "loop"
		}
	}
	return ""
}

type mount struct {
	dev, point, source string
}

// readMountInfo parses a mountinfo file (proc(5)).
func readMountInfo(path string) ([]mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mount table: %w", err)
	}
	defer f.Close()
	var mounts []mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) {
			continue
		}
		mounts = append(mounts, mount{dev: fields[2], point: unescape(fields[4]), source: unescape(fields[sep+2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mount table %s: %w", path, err)
	}
	return mounts, nil
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func readLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func isFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// rdevOf is the device number of a block device file, or false.
func rdevOf(st os.FileInfo) (uint64, bool) {
	s, ok := st.Sys().(*syscall.Stat_t)
	if !ok || st.Mode()&os.ModeDevice == 0 || st.Mode()&os.ModeCharDevice != 0 {
		return 0, false
	}
	return s.Rdev, true
}
