package image

import (
	"context"
	"fmt"
	"os"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/image/rootimage"
	"github.com/edgegate/edgegate/init/buildinfo"
	"github.com/edgegate/edgegate/init/rootfs"
)

// InitrdFile is the initramfs's name on a slot partition.
const InitrdFile = "initrd"

// slotFiles are what a slot partition holds. The root image is a file on
// the slot's FAT, next to the kernel, not a partition or region of its
// own: a slot stays one FAT filesystem that U-Boot, Linux and mtools all
// read, which an update writes whole and which carries everything a boot
// of it needs.
type slotFiles struct {
	kernel, initrd, root []byte
}

func (f slotFiles) files(b boards.Board) map[string][]byte {
	return map[string][]byte{b.KernelFile: f.kernel, InitrdFile: f.initrd, rootfs.ImageFile: f.root}
}

// writeRoot makes the root image of the tree next to the output (tmp is
// the output's temporary name) and returns its bytes and description.
func (o Options) writeRoot(ctx context.Context, tree *initramfs.Archive, tmp string) ([]byte, rootfs.Spec, error) {
	out := tmp + ".root"
	defer os.Remove(out)
	spec, err := rootimage.Write(ctx, rootimage.Options{Tree: tree, Output: out, Epoch: o.Epoch, Progress: o.Progress})
	if err != nil {
		return nil, rootfs.Spec{}, err
	}
	img, err := os.ReadFile(out)
	if err != nil {
		return nil, rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	return img, spec, nil
}

// addInitramfsInit completes the initramfs: its init, which mounts the
// root image spec describes and executes the root's init, the spec with
// the root hash, and the build record (the slot and disk layout). Its
// modules are in already.
func (o Options) addInitramfsInit(ctx context.Context, arc *initramfs.Archive, spec rootfs.Spec) error {
	o.Progress("compiling the initramfs's init for %s", o.Board.Arch)
	bin, err := o.compile(ctx, "./cmd/init/initramfs", "-s -w")
	if err != nil {
		return err
	}
	raw, err := spec.Marshal()
	if err != nil {
		return err
	}
	info, err := o.buildInfo()
	if err != nil {
		return err
	}
	if err := arc.File(rootfs.SpecPath, raw, 0o644); err != nil {
		return err
	}
	if err := arc.File(buildinfo.Path, info, 0o644); err != nil {
		return err
	}
	return arc.File("init", bin, 0o755)
}
