// Package bundle is edgegate's over-the-air update bundle: a signed
// manifest followed by one compressed slot image, the raw partition of a
// slot (its FAT with the kernel, initramfs and root image).
//
// The signature and the manifest come first in the stream, so a device
// checks who signed the update, which board and build it is for, and how
// large it is before it writes a byte of it (Android's update_engine
// signs its metadata for the same reason). The payload follows; the
// device decompresses it while writing, and Reader checks its size and
// sha256 as it goes, so a payload that was cut short, goes on too long or
// was altered is refused by the time the last byte is read.
//
// The layout of a bundle:
//
//	offset  size  content
//	0       8     Magic, "EGBUNDLE"
//	8       8     the signing key's ID (KeyIDOf its public key)
//	16      4     the manifest's length M, big-endian, at most MaxManifestSize
//	20      64    the ed25519 signature of the manifest's bytes
//	84      M     the manifest, JSON (Manifest)
//	84+M    P     the payload: the slot image, compressed (Manifest.PayloadSize)
//
// The key ID sits outside the manifest so the device finds the key and
// checks the signature before it parses a byte of JSON.
package bundle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Magic opens every bundle.
const Magic = "EGBUNDLE"

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// MaxManifestSize bounds the manifest a reader accepts, so a hostile
// length cannot make a device allocate: a real manifest is under 1 KiB.
const MaxManifestSize = 16 << 10

// MaxImageSize bounds the slot image a manifest may declare (1 TiB): far
// above any slot, low enough that sizes never overflow.
const MaxImageSize = 1 << 40

// CompressionZstd is the payload compression: zstd decompresses an order
// of magnitude faster than xz for a few percent more bytes, and a device
// decompresses while it writes (see the package README section).
const CompressionZstd = "zstd"

const (
	keyIDOffset  = len(Magic)
	lengthOffset = keyIDOffset + KeyIDSize
	sigOffset    = lengthOffset + 4
	// HeaderSize is the fixed part before the manifest.
	HeaderSize = sigOffset + 64
)

// Manifest describes a bundle; it is what the signature covers.
type Manifest struct {
	Format  int    `json:"format"`
	Board   string `json:"board"`
	Version string `json:"version"`
	// Build is the monotonic build number (init/buildinfo's Build): a
	// device refuses a bundle older than what it runs unless Downgrade.
	Build uint64 `json:"build"`
	// MinBuild, when set, is the oldest running build the bundle may be
	// installed over (an update that needs an earlier migration step).
	MinBuild uint64 `json:"minBuild,omitempty"`
	// Downgrade allows installing a build older than the running one; it
	// is signed like everything else, so only the key holder can roll a
	// fleet back.
	Downgrade   bool   `json:"downgrade"`
	ImageSize   int64  `json:"imageSize"`
	ImageSHA256 string `json:"imageSha256"`
	Compression string `json:"compression"`
	PayloadSize int64  `json:"payloadSize"`
	KeyID       string `json:"keyId"`
}

// Marshal encodes the manifest as the bytes that are signed.
func (m Manifest) Marshal() ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return raw, nil
}

// parseManifest decodes and checks a manifest whose signature has been
// verified. Unknown fields are refused: a field this reader would ignore
// might be one the signer meant to restrict the update with.
func parseManifest(raw []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if dec.More() {
		return Manifest{}, fmt.Errorf("%w: manifest: data after the JSON object", ErrMalformed)
	}
	return m, m.check()
}

// check refuses a manifest that is not one this package writes.
func (m Manifest) check() error {
	if m.Format != FormatVersion {
		return fmt.Errorf("%w: manifest format %d, this reader knows %d", ErrUnsupported, m.Format, FormatVersion)
	}
	if m.Compression != CompressionZstd {
		return fmt.Errorf("%w: compression %q, this reader knows %q", ErrUnsupported, m.Compression, CompressionZstd)
	}
	bad := func(field string, v any) error {
		return fmt.Errorf("%w: manifest: %s %v", ErrMalformed, field, v)
	}
	switch {
	case m.Board == "":
		return bad("board", `""`)
	case m.Version == "":
		return bad("version", `""`)
	case m.Build == 0:
		return bad("build", 0)
	case m.ImageSize <= 0 || m.ImageSize > MaxImageSize:
		return bad("imageSize", m.ImageSize)
	case m.PayloadSize <= 0 || m.PayloadSize > MaxImageSize:
		return bad("payloadSize", m.PayloadSize)
	case !isHex(m.ImageSHA256, 32):
		return bad("imageSha256", fmt.Sprintf("%q", m.ImageSHA256))
	case !isHex(m.KeyID, KeyIDSize):
		return bad("keyId", fmt.Sprintf("%q", m.KeyID))
	}
	return nil
}

// isHex reports whether s is the lower-case hex encoding of n bytes.
func isHex(s string, n int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == n && hex.EncodeToString(b) == s
}
