// Package verity builds the dm-verity hash tree of a read-only filesystem
// image, in the layout cryptsetup's veritysetup writes (format version 1,
// SHA-256, 4 KiB blocks): the data, then a 512-byte verity superblock at
// the start of the next block, then the tree's levels from the one just
// below the root down to the hashes of the data blocks. `veritysetup
// verify IMG IMG ROOTHASH --hash-offset=N` checks such a file, and so does
// the kernel's dm-verity target (see init/rootfs).
package verity

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
)

// BlockSize is the data and hash block size: the page size of every board,
// so the kernel verifies one page per hash.
const BlockSize = 4096

// Algorithm is the hash the tree uses, as dm-verity names it.
const Algorithm = "sha256"

// Params are what the kernel needs to check the image: the data's size
// in blocks, where the tree starts, the root hash and the salt.
type Params struct {
	DataBlocks int64  // data blocks covered, BlockSize each
	HashOffset int64  // byte offset of the verity superblock (= data size)
	RootHash   []byte // the hash of the top hash block
	Salt       []byte
}

// HashStartBlock is the first block of the hash tree, in BlockSize units
// from the start of the device: the block after the superblock's.
func (p Params) HashStartBlock() int64 { return p.HashOffset/BlockSize + 1 }

// Append reads the first size bytes of data (a multiple of BlockSize),
// and writes the superblock and hash tree for them to w, which continues
// the data: what w receives belongs at byte offset size of the image.
func Append(w io.Writer, data io.ReaderAt, size int64, salt []byte) (Params, error) {
	if size <= 0 || size%BlockSize != 0 {
		return Params{}, fmt.Errorf("verity: data size %d is not a positive multiple of %d", size, BlockSize)
	}
	if len(salt) > 256 {
		return Params{}, fmt.Errorf("verity: salt of %d bytes, at most 256", len(salt))
	}
	p := Params{DataBlocks: size / BlockSize, HashOffset: size, Salt: salt}
	levels, root, err := hashLevels(io.NewSectionReader(data, 0, size), p.DataBlocks, salt)
	if err != nil {
		return Params{}, err
	}
	p.RootHash = root
	sb := superblock(p)
	if _, err := w.Write(sb); err != nil {
		return Params{}, fmt.Errorf("verity: writing superblock: %w", err)
	}
	// Top level first, as dm-verity and veritysetup lay the tree out.
	for i := len(levels) - 1; i >= 0; i-- {
		if _, err := w.Write(levels[i]); err != nil {
			return Params{}, fmt.Errorf("verity: writing hash level %d: %w", i, err)
		}
	}
	return p, nil
}

// hashLevels returns the tree's levels, level 0 (the hashes of the data
// blocks) first, each padded to whole blocks, and the root hash. The tree
// has as many levels as dm-verity computes, the fewest whose top level is
// one block; a single data block has none, its hash is the root hash.
func hashLevels(data io.Reader, blocks int64, salt []byte) (levels [][]byte, root []byte, err error) {
	var hashes bytes.Buffer
	buf := make([]byte, BlockSize)
	for i := int64(0); i < blocks; i++ {
		if _, err := io.ReadFull(data, buf); err != nil {
			return nil, nil, fmt.Errorf("verity: reading data block %d: %w", i, err)
		}
		hashes.Write(hashBlock(salt, buf))
	}
	for hashes.Len() > sha256.Size {
		level := padBlock(bytes.Clone(hashes.Bytes()))
		levels = append(levels, level)
		hashes.Reset()
		for off := 0; off < len(level); off += BlockSize {
			hashes.Write(hashBlock(salt, level[off:off+BlockSize]))
		}
	}
	return levels, hashes.Bytes(), nil
}

// hashBlock is a format-1 hash: the salt first, then the block.
func hashBlock(salt, block []byte) []byte {
	h := sha256.New()
	h.Write(salt)
	h.Write(block)
	return h.Sum(nil)
}

func padBlock(b []byte) []byte {
	if r := len(b) % BlockSize; r != 0 {
		b = append(b, make([]byte, BlockSize-r)...)
	}
	return b
}

// superblock is struct verity_sb (512 bytes, cryptsetup's lib/verity),
// padded to the hash block that holds it:
// signature, version 1, hash type 1, a UUID (left zero: a reproducible
// image has no random one; veritysetup does not need it), the algorithm,
// block sizes, the data block count and the salt.
func superblock(p Params) []byte {
	b := make([]byte, BlockSize)
	copy(b[0:8], "verity\x00\x00")
	binary.LittleEndian.PutUint32(b[8:], 1)  // version
	binary.LittleEndian.PutUint32(b[12:], 1) // hash type: normal (salt first)
	// b[16:32] UUID
	copy(b[32:64], Algorithm)
	binary.LittleEndian.PutUint32(b[64:], BlockSize)
	binary.LittleEndian.PutUint32(b[68:], BlockSize)
	binary.LittleEndian.PutUint64(b[72:], uint64(p.DataBlocks))
	binary.LittleEndian.PutUint16(b[80:], uint16(len(p.Salt)))
	copy(b[88:88+256], p.Salt)
	return b
}
