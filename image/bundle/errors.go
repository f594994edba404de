package bundle

import "errors"

// The reasons a bundle is refused. Every error Open and Reader return
// wraps exactly one of them, so the update service can report the reason
// (errors.Is) and a person can read the detail the wrapping adds.
var (
	// ErrNotBundle: the stream does not start with the bundle magic.
	ErrNotBundle = errors.New("not an update bundle")
	// ErrMalformed: the header or manifest breaks the format (a manifest
	// longer than MaxManifestSize, a missing field, a field out of range).
	ErrMalformed = errors.New("malformed bundle")
	// ErrUnsupported: a format version or compression this reader does
	// not know.
	ErrUnsupported = errors.New("unsupported bundle format")
	// ErrUnknownKey: the bundle is signed by a key the device does not
	// trust.
	ErrUnknownKey = errors.New("unknown key")
	// ErrBadSignature: the signature does not match the manifest.
	ErrBadSignature = errors.New("bad signature")
	// ErrOtherBoard: the bundle is built for another board.
	ErrOtherBoard = errors.New("other board")
	// ErrOlderBuild: the bundle's build is older than the running one and
	// it is not a signed downgrade.
	ErrOlderBuild = errors.New("older build")
	// ErrBelowMinimum: the running build is older than the bundle's
	// minimum.
	ErrBelowMinimum = errors.New("running build below the bundle's minimum")
	// ErrTruncated: the stream ended before the bundle did.
	ErrTruncated = errors.New("truncated")
	// ErrOversized: the stream or the slot image goes on past what the
	// manifest declares.
	ErrOversized = errors.New("oversized")
	// ErrCorrupt: the payload does not decompress, or not to the image the
	// manifest describes (size, sha256).
	ErrCorrupt = errors.New("corrupt payload")
)
