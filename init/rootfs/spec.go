package rootfs

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
)

// SpecPath is where the initramfs carries the description of its slot's
// root image. It travels with the kernel and initramfs in the same slot,
// so the root hash that vouches for the root image is part of what the
// bootloader loaded; nothing on the slot partition can change it without
// changing the initramfs too.
const SpecPath = "/etc/edgegate/root.json"

// ImageFile is the root image's name on the slot partition.
const ImageFile = "root.img"

// InitPath is the gateway's init inside the root image: what the
// initramfs executes once the root is mounted.
const InitPath = "/sbin/init"

// Spec describes the root image of a slot.
type Spec struct {
	// File is the image's name on the slot's FAT partition.
	File string `json:"file"`
	// FSType is the filesystem inside, as mount(2) names it.
	FSType string `json:"fsType"`
	// Size is the file's size: the filesystem, then the verity data.
	Size   int64  `json:"size"`
	Verity Verity `json:"verity"`
}

// Verity is the dm-verity hash tree that follows the filesystem in the
// image (veritysetup's layout: a superblock at HashOffset, the tree from
// the next block on).
type Verity struct {
	Algorithm  string `json:"algorithm"`
	BlockSize  int64  `json:"blockSize"` // data and hash blocks
	DataBlocks int64  `json:"dataBlocks"`
	HashOffset int64  `json:"hashOffset"` // bytes: the superblock's offset
	RootHash   string `json:"rootHash"`   // hex
	Salt       string `json:"salt"`       // hex
}

// HashStartBlock is the first block of the tree on the device, in
// BlockSize units: the one after the superblock's.
func (v Verity) HashStartBlock() int64 { return v.HashOffset/v.BlockSize + 1 }

// Sectors is the verified device's size in 512-byte sectors.
func (v Verity) Sectors() int64 { return v.DataBlocks * v.BlockSize / 512 }

// Table is the dm-verity target's parameters for a device that holds the
// data and the tree back to back (data and hash device are the same).
func (v Verity) Table(dev string) string {
	return fmt.Sprintf("1 %s %s %d %d %d %d %s %s %s", dev, dev, v.BlockSize, v.BlockSize,
		v.DataBlocks, v.HashStartBlock(), v.Algorithm, v.RootHash, v.Salt)
}

// Check rejects a spec the kernel would refuse or misread, naming the field.
func (s Spec) Check() error {
	v := s.Verity
	switch {
	case s.File == "" || s.FSType == "":
		return fmt.Errorf("root spec: file and fsType are required")
	case v.Algorithm != "sha256":
		return fmt.Errorf("root spec: verity.algorithm %q: want sha256", v.Algorithm)
	case v.BlockSize != 4096:
		return fmt.Errorf("root spec: verity.blockSize %d: want 4096", v.BlockSize)
	case v.DataBlocks <= 0 || v.HashOffset != v.DataBlocks*v.BlockSize:
		return fmt.Errorf("root spec: verity.dataBlocks %d and hashOffset %d disagree", v.DataBlocks, v.HashOffset)
	case s.Size <= v.HashOffset:
		return fmt.Errorf("root spec: size %d leaves no room for the hash tree after %d", s.Size, v.HashOffset)
	}
	if b, err := hex.DecodeString(v.RootHash); err != nil || len(b) != 32 {
		return fmt.Errorf("root spec: verity.rootHash %q: want 64 hex digits", v.RootHash)
	}
	if _, err := hex.DecodeString(v.Salt); err != nil {
		return fmt.Errorf("root spec: verity.salt %q: not hex", v.Salt)
	}
	return nil
}

// Marshal renders the spec as the initramfs carries it.
func (s Spec) Marshal() ([]byte, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("root spec: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadSpec reads and checks the spec at path.
func ReadSpec(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("root spec: %w", err)
	}
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return Spec{}, fmt.Errorf("root spec %s: %w", path, err)
	}
	return s, s.Check()
}
