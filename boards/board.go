// Package boards describes the hardware edgegate builds images for.
//
// A Board pins every input that goes into its image: the kernel and
// bootloader packages (by name, version and sha256), the kernel modules the
// init loads, the userland files taken from distribution packages, and how
// the board is emulated when QEMU can emulate it. Boards are plain values
// returned by functions, so callers may copy and adjust one (tests do)
// without touching anyone else's.
package boards

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Arch is a CPU architecture as edgegate names it.
type Arch string

// The architectures edgegate supports.
const (
	ARM64 Arch = "arm64"
	ARMv7 Arch = "armv7"
)

// GOARCH and GOARM return the Go toolchain settings for the architecture.
func (a Arch) GOARCH() string {
	if a == ARMv7 {
		return "arm"
	}
	return "arm64"
}

// GOARM is the GOARM value for the architecture, empty where it does not apply.
func (a Arch) GOARM() string {
	if a == ARMv7 {
		return "7"
	}
	return ""
}

// DebianArch is the Debian architecture name of the packages for a.
func (a Arch) DebianArch() string {
	if a == ARMv7 {
		return "armhf"
	}
	return "arm64"
}

// Package pins one Debian package file.
type Package struct {
	Name    string
	Version string
	Arch    string // Debian architecture of the .deb: arm64, armhf or all
	SHA256  string // of the .deb file
}

// Spec is the name:arch=version form apt-get understands.
func (p Package) Spec() string {
	if p.Arch == "all" {
		return p.Name + "=" + p.Version
	}
	return p.Name + ":" + p.Arch + "=" + p.Version
}

// Filename is the file name apt-get download gives the package.
func (p Package) Filename() string {
	// apt escapes the epoch colon as %3a in file names.
	v := strings.ReplaceAll(url.PathEscape(p.Version), ":", "%3a")
	v = strings.ReplaceAll(v, "%3A", "%3a")
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, v, p.Arch)
}

func (p Package) String() string { return p.Name + " " + p.Version + " (" + p.Arch + ")" }

// Files selects files from a package for the root image. Paths are relative
// to the package's root and may use path.Match patterns; symlinks are kept.
type Files struct {
	From  Package
	Paths []string
}

// Module is a kernel module the board loads at boot, with what it needs
// pulled in by dependency resolution at build time.
type Module struct {
	Name string
	// Required modules stop the boot when they fail to load; others are
	// reported and the boot goes on.
	Required bool
}

// Emulation says how QEMU runs the board. Boards QEMU cannot emulate have none.
type Emulation struct {
	Binary    string // qemu-system-aarch64, qemu-system-arm
	Machine   string
	CPU       string
	MemoryMiB int
	CPUs      int
	// BIOS is the U-Boot binary inside the board's Bootloader package used
	// for whole-disk boots.
	BIOS string
	// NetDevice is the QEMU network device model.
	NetDevice string
}

// Layout sizes the partitions of the disk image, in MiB.
type Layout struct {
	BootMiB int
	SlotMiB int
	DataMiB int
}

// Board is one hardware target.
type Board struct {
	Name        string
	Description string
	Arch        Arch

	Kernel        Package
	KernelRelease string // uname -r, names /lib/modules/<release>
	KernelPath    string // the kernel image inside the kernel package
	// KernelFile is the name the kernel gets in a slot: Image for arm64
	// (U-Boot booti), zImage for armv7 (bootz).
	KernelFile string
	BootCmd    string // booti or bootz

	Bootloader Package
	Console    string // serial console device, e.g. ttyAMA0
	// Disk is the block device the board boots from, without /dev/.
	// Partitions are Disk+PartSep+N (vda1, mmcblk0p1).
	Disk    string
	PartSep string
	// Net is the interface init reports and configures.
	Net string

	// InitramfsModules are what the initramfs loads to reach the slot's
	// root image: the disk, the slot's FAT, loop, dm-verity and the root's
	// filesystem. Modules load from the root image after it, those the
	// initramfs loaded left out.
	InitramfsModules []Module
	Modules          []Module
	// ExcludeModules are dropped from the resolved set: soft dependencies
	// the board's CPU cannot use.
	ExcludeModules []string
	Userland       []Files
	Layout         Layout

	Emulation *Emulation
}

// Partition returns the device path of partition n (1-based) on the boot disk.
func (b Board) Partition(n int) string {
	return fmt.Sprintf("/dev/%s%s%d", b.Disk, b.PartSep, n)
}

// Packages lists every package the board pins, kernel first.
func (b Board) Packages() []Package {
	ps := []Package{b.Kernel, b.Bootloader}
	for _, f := range b.Userland {
		ps = append(ps, f.From)
	}
	return ps
}

var (
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks that a board is complete and consistent.
func (b Board) Validate() error {
	var errs []string
	add := func(format string, a ...any) { errs = append(errs, fmt.Sprintf(format, a...)) }
	if !nameRE.MatchString(b.Name) {
		add("name %q: want lower-case letters, digits and dashes", b.Name)
	}
	if b.Arch != ARM64 && b.Arch != ARMv7 {
		add("arch %q: want %s or %s", b.Arch, ARM64, ARMv7)
	}
	for _, p := range b.Packages() {
		if p.Name == "" || p.Version == "" || p.Arch == "" {
			add("package %q: name, version and arch are all required", p.Name)
		}
		if !sha256RE.MatchString(p.SHA256) {
			add("package %s: sha256 %q is not 64 lower-case hex digits", p.Name, p.SHA256)
		}
	}
	if b.KernelRelease == "" || b.KernelPath == "" || b.KernelFile == "" {
		add("kernel: release, path and file name are required")
	}
	if b.BootCmd != "booti" && b.BootCmd != "bootz" {
		add("bootCmd %q: want booti or bootz", b.BootCmd)
	}
	if b.Console == "" || b.Disk == "" || b.Net == "" {
		add("console, disk and net are required")
	}
	if len(b.InitramfsModules) == 0 {
		add("initramfsModules: a board needs at least its disk driver to reach its root")
	}
	if b.Layout.BootMiB < 33 || b.Layout.SlotMiB < 33 || b.Layout.DataMiB < 16 {
		add("layout %+v: boot and slots need at least 33 MiB (FAT32), data 16 MiB", b.Layout)
	}
	if len(errs) > 0 {
		return fmt.Errorf("board %s: %s", b.Name, strings.Join(errs, "; "))
	}
	return nil
}

// All returns every board edgegate knows, sorted by name.
func All() []Board {
	bs := []Board{QEMUArm64(), QEMUArmv7()}
	sort.Slice(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name })
	return bs
}

// Names returns the names of all boards.
func Names() []string {
	var ns []string
	for _, b := range All() {
		ns = append(ns, b.Name)
	}
	return ns
}

// Lookup returns the board called name.
func Lookup(name string) (Board, error) {
	for _, b := range All() {
		if b.Name == name {
			return b, nil
		}
	}
	return Board{}, fmt.Errorf("unknown board %q (known: %s)", name, strings.Join(Names(), ", "))
}
