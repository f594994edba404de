package flash

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// sysTree builds a stand-in sysfs: each disk a directory under devices/
// with its dev, removable and partition files, linked from dev/block/.
type sysTree struct {
	t    *testing.T
	root string
}

// disk adds a block device at devices/PATH (the last element is its
// name) with the given files, and returns its directory.
func (s sysTree) disk(path, dev string, files map[string]string) string {
	dir := filepath.Join(s.root, "devices", path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	files["dev"] = dev
	for name, v := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			s.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			s.t.Fatal(err)
		}
	}
	s.link(filepath.Join(s.root, "dev", "block", dev), dir)
	for name, v := range files {
		if part := filepath.Dir(name); part != "." && filepath.Base(name) == "dev" {
			s.link(filepath.Join(s.root, "dev", "block", v), filepath.Join(dir, part))
		}
	}
	return dir
}

func (s sysTree) link(at, to string) {
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Symlink(to, at); err != nil {
		s.t.Fatal(err)
	}
}

func fakeHost(t *testing.T, sys string) Host {
	return Host{Sys: sys, MountInfo: filepath.Join(sys, "mountinfo"), System: []string{filepath.Join(sys, "system")}}
}

// fixedDisk is a stand-in sysfs where the block device dev is a fixed
// SATA disk.
func fixedDisk(t *testing.T, dev string) string {
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		t.Fatal(err)
	}
	s := sysTree{t, t.TempDir()}
	s.disk("pci0000:00/ata1/block/sdx", majMin(st.Rdev), map[string]string{"removable": "0"})
	writeFile(t, filepath.Join(s.root, "mountinfo"), "")
	writeFile(t, filepath.Join(s.root, "system"), "")
	return s.root
}

func majMin(dev uint64) string { return fmt.Sprintf("%d:%d", unix.Major(dev), unix.Minor(dev)) }

func writeFile(t *testing.T, p, s string) {
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCheckDevice: which disks are refused, and why, on a stand-in
// sysfs: fixed disks unless forced; removable, USB and SD-card disks;
// partitions; a disk whose partition, or a device-mapper device stacked
// on it, is mounted; the disk under the device-mapper device holding a
// system path.
func TestCheckDevice(t *testing.T) {
	s := sysTree{t, t.TempDir()}
	// The system path lives on a file system whose device the stand-in
	// sysfs makes dm-0, stacked on sdc2.
	system := filepath.Join(s.root, "system")
	writeFile(t, system, "")
	var st unix.Stat_t
	if err := unix.Stat(system, &st); err != nil {
		t.Fatal(err)
	}
	if unix.Major(st.Dev) == 0 {
		t.Skipf("the test directory's file system has an anonymous device %s", majMin(st.Dev))
	}
	sdc := s.disk("pci0000:00/ata3/block/sdc", "8:32", map[string]string{"removable": "0", "sdc2/partition": "2", "sdc2/dev": "8:34"})
	dm0 := s.disk("virtual/block/dm-0", majMin(st.Dev), map[string]string{"removable": "0"})
	s.link(filepath.Join(dm0, "slaves", "sdc2"), filepath.Join(sdc, "sdc2"))

	s.disk("pci0000:00/ata1/block/sda", "8:0", map[string]string{"removable": "0", "sda1/partition": "1", "sda1/dev": "8:1"})
	s.disk("pci0000:00/usb1/1-1/1-1:1.0/host0/block/sdb", "8:16", map[string]string{"removable": "0"})
	s.disk("pci0000:00/card/block/sdd", "8:48", map[string]string{"removable": "1", "sdd1/partition": "1", "sdd1/dev": "8:49"})
	mmc := s.disk("platform/mmc0/mmc0:0001/block/mmcblk0", "179:0", map[string]string{"removable": "0", "../../type": "SD"})
	s.link(filepath.Join(mmc, "device"), filepath.Dir(filepath.Dir(mmc)))
	emmc := s.disk("platform/mmc1/mmc1:0001/block/mmcblk1", "179:8", map[string]string{"removable": "0", "../../type": "MMC"})
	s.link(filepath.Join(emmc, "device"), filepath.Dir(filepath.Dir(emmc)))
	// sde1 carries a LUKS volume, dm-1, which is mounted.
	sde := s.disk("pci0000:00/usb2/2-1/2-1:1.0/host1/block/sde", "8:64", map[string]string{"removable": "1", "sde1/partition": "1", "sde1/dev": "8:65"})
	dm1 := s.disk("virtual/block/dm-1", "253:1", map[string]string{"removable": "0"})
	s.link(filepath.Join(sde, "sde1", "holders", "dm-1"), dm1)
	writeFile(t, filepath.Join(s.root, "mountinfo"), strings.Join([]string{
		"26 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
		`40 26 8:49 / /media/my\040card rw,relatime - vfat /dev/sdd1 rw`,
		"41 26 253:1 / /secret rw,relatime - ext4 /dev/mapper/secret rw",
	}, "\n")+"\n")
	h := Host{Sys: s.root, MountInfo: filepath.Join(s.root, "mountinfo"), System: []string{system, filepath.Join(s.root, "no-boot")}}

	for _, tt := range []struct {
		dev     string
		force   bool
		want    error
		mention string
	}{
		{"8:0", false, ErrNotRemovable, "/dev/sda) is a fixed disk"},
		{"8:0", true, nil, ""},
		{"179:8", false, ErrNotRemovable, "/dev/mmcblk1) is a fixed disk"},
		{"8:16", false, nil, ""},  // USB
		{"179:0", false, nil, ""}, // SD card
		{"8:1", true, ErrPartition, "partition of /dev/sda"},
		{"8:48", false, ErrMounted, "/dev/sdd1 is mounted on /media/my card"},
		{"8:64", false, ErrMounted, "/dev/dm-1 is mounted on /secret"},
		{"8:32", true, ErrSystemDisk, "/dev/sdc) holds " + system},
		{"9:9", false, nil, "unknown to sysfs"},
	} {
		var maj, mnr uint32
		fmt.Sscanf(tt.dev, "%d:%d", &maj, &mnr)
		err := h.checkDevice("/dev/x", unix.Mkdev(maj, mnr), tt.force)
		switch {
		case tt.want == nil && tt.mention == "" && err != nil:
			t.Errorf("%s (force %v): %v, want it allowed", tt.dev, tt.force, err)
		case tt.want != nil && !errors.Is(err, tt.want), err != nil && !strings.Contains(err.Error(), tt.mention), tt.mention != "" && err == nil:
			t.Errorf("%s (force %v): %v, want %v mentioning %q", tt.dev, tt.force, err, tt.want, tt.mention)
		}
	}
}
