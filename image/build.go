// Package image builds an edgegate disk image for a board, laid out as
// DESIGN.md's four partitions: the boot script and slot state, and in slot
// A the kernel, a small initramfs and the read-only root image. The root
// image (an erofs with its dm-verity hash tree, see image/rootimage) holds
// the userland: init, the board's kernel modules and packages, the
// container runtime, edgecore and the configuration. The initramfs holds
// only what reaches it: its own init (cmd/init/initramfs), the modules of
// the disk, the slot's FAT, loop, dm-verity and erofs, and the root
// image's description with its root hash.
//
// The same inputs give the same bytes: packages are pinned by sha256, init
// is built with -trimpath, archives and filesystems carry fixed timestamps
// and sorted entries.
package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/debpkg"
	"github.com/edgegate/edgegate/image/disk"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/image/moddep"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/jointoken"
	"github.com/edgegate/edgegate/init/kmod"
	"github.com/edgegate/edgegate/init/rootfs"
)

// DefaultEpoch is the timestamp written into the image when the caller
// sets none (2026-01-01T00:00:00Z). FAT cannot represent dates before 1980.
const DefaultEpoch = 1767225600

// Options controls a build.
type Options struct {
	Board   boards.Board
	Version string
	Output  string
	// Cache holds downloaded and unpacked packages.
	Cache *debpkg.Cache
	// Init is a prebuilt init binary for the board's architecture; when
	// empty, init is compiled from Source.
	Init   string
	Source string // the edgegate module's root directory
	Epoch  int64
	// Config is the device config (YAML, see init/config); nil means
	// DefaultConfig for the board. A config that does not validate fails
	// the build.
	Config []byte
	// Extra files are added to the root image (service executables, say).
	Extra []ExtraFile
	// Containerd adds the container runtime (containerd, runc, CNI
	// plugins; see image/containerd.go). Off, the image is the bare floor
	// the boot benchmarks measure.
	Containerd bool
	// Edgecore adds the edge agent (cmd/edgecore) and its configuration,
	// EdgecoreConfig or, when nil, DefaultEdgecoreConfig; see
	// image/edgecore.go.
	Edgecore       bool
	EdgecoreConfig []byte
	// UpdateKeys are the public keys (PEM files, see image/bundle) the
	// gateway accepts update bundles from, put into the root image at
	// bundle.TrustedKeysPath; without them it accepts none.
	UpdateKeys [][]byte
	// UpdateClients are the public keys (PEM files, as for UpdateKeys) of
	// the operators allowed to push updates. When set, the image carries
	// the update service (cmd/edgegate-update) as service `update` on
	// UpdatePort (0: update.DefaultPort), open in the firewall; see
	// image/updateservice.go.
	UpdateClients [][]byte
	UpdatePort    int
	// BuildNumber is the monotonic number recorded in build.json that
	// update bundles are ordered by; 0 means Epoch (see buildNumber).
	BuildNumber uint64
	// Progress receives one line per step; nil discards them.
	Progress func(format string, args ...any)
}

// Result describes a finished image.
type Result struct {
	Output        string
	SHA256        string
	ImageSize     int64
	InitramfsSize int64
	InitSize      int64 // the root image's init (the initramfs has its own, smaller)
	KernelSize    int64
	RootSize      int64 // the root image with its hash tree
	Modules       int   // in the initramfs and the root image
}

// Build writes the image to o.Output. Nothing is left at o.Output unless the
// whole image was written.
func Build(ctx context.Context, o Options) (Result, error) {
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.Epoch == 0 {
		o.Epoch = DefaultEpoch
	}
	if o.BuildNumber == 0 {
		o.BuildNumber = buildNumber(o.Epoch)
	}
	b := o.Board
	if err := b.Validate(); err != nil {
		return Result{}, err
	}
	// Fail on an unwritable output before minutes of work, not after.
	tmp, err := reserveOutput(o.Output)
	if err != nil {
		return Result{}, err
	}
	defer os.Remove(tmp)

	kernelRoot, err := o.unpack(ctx, b.Kernel)
	if err != nil {
		return Result{}, err
	}
	kernel, err := os.ReadFile(filepath.Join(kernelRoot, b.KernelPath))
	if err != nil {
		return Result{}, fmt.Errorf("kernel: %w", err)
	}
	initrdArc, root := initramfs.New(), initramfs.New()
	nmods, err := o.addModules(initrdArc, root, kernelRoot)
	if err != nil {
		return Result{}, err
	}
	if err := o.addUserland(ctx, root); err != nil {
		return Result{}, err
	}
	if err := o.addContainerd(ctx, root); err != nil {
		return Result{}, err
	}
	if err := o.addEdgecore(ctx, root); err != nil {
		return Result{}, err
	}
	if err := o.addUpdateService(ctx, root); err != nil {
		return Result{}, err
	}
	if err := o.addSystemFiles(root); err != nil {
		return Result{}, err
	}
	if err := o.addUpdateKeys(root); err != nil {
		return Result{}, err
	}
	initBin, err := o.initBinary(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := addRootSystem(root, initBin, o); err != nil {
		return Result{}, err
	}
	rootImg, spec, err := o.writeRoot(ctx, root, tmp)
	if err != nil {
		return Result{}, err
	}
	if err := o.addInitramfsInit(ctx, initrdArc, spec); err != nil {
		return Result{}, err
	}
	var initrd bytes.Buffer
	if _, err := initrdArc.WriteLZ4(&initrd); err != nil {
		return Result{}, err
	}
	o.Progress("initramfs: %d bytes (%d before lz4); root image: %d bytes; %d modules", initrd.Len(), initrdArc.Size(), len(rootImg), nmods)

	token, err := o.joinToken()
	if err != nil {
		return Result{}, err
	}
	layout, err := o.diskSpec(slotFiles{kernel: kernel, initrd: initrd.Bytes(), root: rootImg}, token)
	if err != nil {
		return Result{}, err
	}
	o.Progress("writing %s (%d MiB)", o.Output, layout.Size()/disk.MiB)
	os.Remove(tmp) // disk.Write creates its file itself
	if err := writeDisk(tmp, layout, token != nil); err != nil {
		return Result{}, err
	}
	sum, err := fileSHA256(tmp)
	if err != nil {
		return Result{}, err
	}
	if err := os.Rename(tmp, o.Output); err != nil {
		return Result{}, fmt.Errorf("output %s: %w", o.Output, err)
	}
	return Result{
		Output: o.Output, SHA256: sum, ImageSize: layout.Size(),
		InitramfsSize: int64(initrd.Len()), InitSize: int64(len(initBin)),
		KernelSize: int64(len(kernel)), RootSize: int64(len(rootImg)), Modules: nmods,
	}, nil
}

// reserveOutput creates the temporary file the image is written to, next
// to the output so the final rename stays on one filesystem.
func reserveOutput(out string) (string, error) {
	if out == "" {
		return "", fmt.Errorf("output: no file name given")
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return "", fmt.Errorf("output %s: %w", out, err)
	}
	f.Close()
	return f.Name(), nil
}

func (o Options) unpack(ctx context.Context, p boards.Package) (string, error) {
	o.Progress("package %s", p)
	return o.Cache.Unpacked(ctx, p)
}

// addModules resolves the board's modules and their dependencies in the
// kernel's tree: the initramfs gets those that reach the slot's root, the
// root image the rest, each with its load list. It returns how many.
func (o Options) addModules(initrd, root *initramfs.Archive, kernelRoot string) (int, error) {
	b := o.Board
	modRoot := filepath.Join(kernelRoot, "lib", "modules", b.KernelRelease)
	tree, err := moddep.Scan(modRoot)
	if err != nil {
		return 0, fmt.Errorf("kernel %s: %w", b.Kernel.Name, err)
	}
	early, err := o.addModuleSet(initrd, tree, modRoot, b.InitramfsModules, nil)
	if err != nil {
		return 0, err
	}
	rest, err := o.addModuleSet(root, tree, modRoot, b.Modules, early)
	return len(early) + len(rest), err
}

// addModuleSet adds the modules wanted, with their dependencies, less
// those loaded before (loaded), to arc with their load list, and returns
// the names it added.
func (o Options) addModuleSet(arc *initramfs.Archive, tree *moddep.Tree, modRoot string, wanted []boards.Module, loaded map[string]bool) (map[string]bool, error) {
	b := o.Board
	var names []string
	required := map[string]bool{}
	for _, m := range wanted {
		names = append(names, m.Name)
		if m.Required {
			required[moddep.Canonical(m.Name)] = true
		}
	}
	mods, err := tree.Resolve(names)
	if err != nil {
		return nil, fmt.Errorf("board %s: %w", b.Name, err)
	}
	mods = exclude(mods, b.ExcludeModules)
	needed := neededBy(mods, required)
	added := map[string]bool{}
	var list []kmod.Entry
	for _, m := range mods {
		if loaded[m.Name] {
			continue
		}
		inImage := path.Join("lib/modules", b.KernelRelease, filepath.ToSlash(m.Path))
		if err := arc.CopyFile(inImage, filepath.Join(modRoot, m.Path)); err != nil {
			return nil, err
		}
		list = append(list, kmod.Entry{Path: "/" + inImage, Required: needed[m.Name]})
		added[m.Name] = true
	}
	return added, arc.File(kmod.ListPath, kmod.Format(list), 0o644)
}

// exclude drops the named modules from a resolved list.
func exclude(mods []moddep.Info, names []string) []moddep.Info {
	drop := map[string]bool{}
	for _, n := range names {
		drop[moddep.Canonical(n)] = true
	}
	kept := mods[:0:0]
	for _, m := range mods {
		if !drop[m.Name] {
			kept = append(kept, m)
		}
	}
	return kept
}

// neededBy marks the required modules and their hard dependencies: if ext4
// is required, so is jbd2. Soft dependencies stay optional (one of several
// crc32c implementations failing is fine).
func neededBy(mods []moddep.Info, required map[string]bool) map[string]bool {
	byName := map[string]moddep.Info{}
	for _, m := range mods {
		byName[m.Name] = m
	}
	need := map[string]bool{}
	var mark func(string)
	mark = func(n string) {
		if need[n] {
			return
		}
		need[n] = true
		for _, d := range byName[n].Depends {
			mark(d)
		}
	}
	for n := range required {
		mark(n)
	}
	return need
}

func (o Options) addUserland(ctx context.Context, arc *initramfs.Archive) error {
	for _, f := range o.Board.Userland {
		root, err := o.unpack(ctx, f.From)
		if err != nil {
			return err
		}
		for _, p := range f.Paths {
			if err := arc.CopyGlob(root, p); err != nil {
				return fmt.Errorf("package %s: %w", f.From.Name, err)
			}
		}
	}
	return nil
}

// addRootSystem adds init, the mount points the system fills and the
// build record to the root image.
func addRootSystem(root *initramfs.Archive, initBin []byte, o Options) error {
	info, err := o.buildInfo()
	if err != nil {
		return err
	}
	for _, d := range []string{"proc", "sys", "dev", "run", "tmp", "var", "etc", "sbin"} {
		if err := mkdirs(root, d); err != nil {
			return err
		}
	}
	if err := root.File(buildinfo.Path, info, 0o644); err != nil {
		return err
	}
	if err := root.File("etc/os-release", osRelease(o), 0o644); err != nil {
		return err
	}
	return root.File(rootfs.InitPath, initBin, 0o755)
}

func (o Options) buildInfo() ([]byte, error) {
	b := o.Board
	return buildinfo.Info{
		Version: o.Version, Build: o.BuildNumber, Board: b.Name, Arch: string(b.Arch), KernelRelease: b.KernelRelease,
		Console: b.Console, Disk: b.Disk, PartSep: b.PartSep, Net: b.Net,
	}.Marshal()
}

// osRelease is the image's os-release(5): what the node reports as its OS
// image ("edgegate <version>") and what tools read to tell the system.
func osRelease(o Options) []byte {
	return []byte(fmt.Sprintf("NAME=edgegate\nID=edgegate\nVERSION_ID=%q\nPRETTY_NAME=\"edgegate %s\"\nVARIANT_ID=%q\n",
		o.Version, o.Version, o.Board.Name))
}

// diskSpec lays out the four partitions of DESIGN.md: boot (script, slot
// state and the join token if there is one), slot A (kernel, initramfs
// and root image), slot B (empty until an update) and data (blank;
// formatted by init on first boot).
func (o Options) diskSpec(slot slotFiles, token []byte) (disk.Spec, error) {
	b := o.Board
	script, scr, err := BootScript(b, o.Epoch)
	if err != nil {
		return disk.Spec{}, err
	}
	bootFiles := map[string][]byte{"boot.scr": scr, "boot.cmd": []byte(script)}
	if token != nil {
		bootFiles[jointoken.BootFile] = token
	}
	id := fnv.New32a()
	io.WriteString(id, b.Name)
	return disk.Spec{
		DiskID:  id.Sum32(),
		Epoch:   o.Epoch,
		Sectors: initialSlotState(),
		Partitions: []disk.Partition{
			{SizeMiB: b.Layout.BootMiB, Type: disk.TypeFAT32LBA, Bootable: true, FAT: &disk.FAT{
				Label: "EDGEBOOT",
				Files: bootFiles,
			}},
			{SizeMiB: b.Layout.SlotMiB, Type: disk.TypeFAT32LBA, FAT: &disk.FAT{
				Label: "SLOT_A",
				Files: slot.files(b),
			}},
			{SizeMiB: b.Layout.SlotMiB, Type: disk.TypeFAT32LBA},
			{SizeMiB: b.Layout.DataMiB, Type: disk.TypeLinux},
		},
	}, nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
