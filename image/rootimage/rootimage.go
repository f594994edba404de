// Package rootimage writes a slot's read-only root: the userland tree as a
// compressed erofs image, followed by its dm-verity hash tree, and the
// description (init/rootfs.Spec) the initramfs carries to mount and check
// it.
//
// erofs, not squashfs. Both are modules of the boards' Debian kernels and
// both writers are reproducible; the kernels' erofs reads only LZ4
// (EROFS_FS_ZIP_LZMA is off), their squashfs also xz and zstd. LZ4 unpacks
// far faster, which is what a boot spends its time on under emulation and
// on a Pi: measured in emulated instructions (QEMU -icount, immune to the
// host's load), containerd was healthy on arm64 3.7 s later with the root
// in squashfs/xz and 0.6 s later in squashfs/zstd, for a root image 35%
// and 25% smaller. An update compresses the slot again (xz), which takes
// back most of the difference.
//
// The image is made by Debian's mkfs.erofs with every input that could
// vary fixed: file times are the build's epoch, owners are root, the UUID
// and the verity salt are derived from the tree's contents, and the tree
// is written from a sorted archive; mkfs.erofs orders directory entries
// itself. The same tree and tool version give the same bytes.
package rootimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgegate/edgegate/image/initramfs"
	"github.com/edgegate/edgegate/image/verity"
	"github.com/edgegate/edgegate/init/rootfs"
)

// The writer: erofs-utils' mkfs.erofs (Debian's erofs-utils package).
const (
	mkfs    = "mkfs.erofs"
	mkfsPkg = "erofs-utils"
	// FSType is the root image's filesystem, as mount(2) names it.
	FSType = "erofs"
)

// Options says what to write.
type Options struct {
	Tree   *initramfs.Archive
	Output string // the image file, created or truncated
	Epoch  int64  // every timestamp in the filesystem
	// Progress receives a line about the result.
	Progress func(format string, args ...any)
}

// Write makes the root image at o.Output and returns its description.
func Write(ctx context.Context, o Options) (rootfs.Spec, error) {
	tool, err := exec.LookPath(mkfs)
	if err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %s not found: install Debian's %s (make deps does)", mkfs, mkfsPkg)
	}
	work, err := os.MkdirTemp("", "edgegate-root-")
	if err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	defer os.RemoveAll(work)
	tree := filepath.Join(work, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	if err := o.Tree.Extract(tree); err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	digest, err := treeDigest(o.Tree)
	if err != nil {
		return rootfs.Spec{}, err
	}
	cmd := exec.CommandContext(ctx, tool, mkfsArgs(tree, o.Output, o.Epoch, digest)...)
	// mkfs.erofs reads SOURCE_DATE_EPOCH besides -T (its output differs
	// with and without it): set it, whatever the caller's environment has.
	cmd.Env = append(withoutEnv(os.Environ(), "SOURCE_DATE_EPOCH"), "SOURCE_DATE_EPOCH="+strconv.FormatInt(o.Epoch, 10))
	if out, err := cmd.CombinedOutput(); err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %s: %w: %s", mkfs, err, strings.TrimSpace(string(out)))
	}
	spec, err := appendVerity(o.Output, digest[:])
	if err != nil {
		return rootfs.Spec{}, err
	}
	spec.FSType = FSType
	if o.Progress != nil {
		o.Progress("root image: erofs, %d bytes with its hash tree, root hash %s", spec.Size, spec.Verity.RootHash)
	}
	return spec, spec.Check()
}

// mkfsArgs are mkfs.erofs's arguments: LZ4HC at its best level in 64 KiB
// physical clusters (a cluster is decompressed whole into the page
// cache: programs are read in runs anyway, and the image is a sixth
// smaller than with 4 KiB clusters at no measurable boot cost), the
// build's time on every file, root as every owner, a UUID derived from
// the contents, no extended attributes (the tree has none).
func mkfsArgs(tree, out string, epoch int64, digest [32]byte) []string {
	return []string{"-zlz4hc,12", "-C65536", "-T" + strconv.FormatInt(epoch, 10), "-U" + uuid(digest),
		"--all-root", "-x-1", "--quiet", out, tree}
}

// uuid formats the first 16 bytes of the tree's digest as a version 4
// UUID: unique per content, the same in every build of it.
func uuid(d [32]byte) string {
	u := d[:16]
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// treeDigest is the sha256 of the tree as a reproducible cpio archive:
// what the filesystem holds, independent of how the tool lays it out.
func treeDigest(tree *initramfs.Archive) ([32]byte, error) {
	h := sha256.New()
	if _, err := tree.WriteTo(h); err != nil {
		return [32]byte{}, fmt.Errorf("root image: %w", err)
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d, nil
}

// appendVerity pads the filesystem image to whole verity blocks and
// appends the superblock and hash tree.
func appendVerity(path string, salt []byte) (rootfs.Spec, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	defer f.Close()
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	size := (end + verity.BlockSize - 1) / verity.BlockSize * verity.BlockSize
	if _, err := f.Write(make([]byte, size-end)); err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: padding: %w", err)
	}
	p, err := verity.Append(f, f, size, salt)
	if err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	total, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	if err := f.Close(); err != nil {
		return rootfs.Spec{}, fmt.Errorf("root image: %w", err)
	}
	return rootfs.Spec{
		File: rootfs.ImageFile,
		Size: total,
		Verity: rootfs.Verity{
			Algorithm: verity.Algorithm, BlockSize: verity.BlockSize,
			DataBlocks: p.DataBlocks, HashOffset: p.HashOffset,
			RootHash: hex.EncodeToString(p.RootHash), Salt: hex.EncodeToString(p.Salt),
		},
	}, nil
}

// withoutEnv is env less the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
