package bundle

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"sort"
)

// TrustedKeysPath is where the image carries the public keys a device
// accepts bundles from: the keys given to `edgegate build --ota-key`, as
// concatenated PUBLIC KEY blocks (ParseKeyRing).
const TrustedKeysPath = "/etc/edgegate/ota-keys.pem"

// KeyIDSize is the length of a key ID in bytes.
const KeyIDSize = 8

// KeyID names a signing key: the first 8 bytes of the sha256 of its
// ed25519 public key. It is derived, never chosen, so a key file cannot
// claim another key's ID.
type KeyID [KeyIDSize]byte

// KeyIDOf returns the ID of a public key.
func KeyIDOf(pub ed25519.PublicKey) KeyID {
	sum := sha256.Sum256(pub)
	var id KeyID
	copy(id[:], sum[:KeyIDSize])
	return id
}

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// PublicKey is a key bundles are verified with.
type PublicKey struct {
	ID  KeyID
	Key ed25519.PublicKey
}

// PrivateKey is a key bundles are signed with.
type PrivateKey struct {
	ID  KeyID
	Key ed25519.PrivateKey
}

// GenerateKey makes a new signing key from rand (crypto/rand.Reader).
func GenerateKey(rand io.Reader) (PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("generating an ed25519 key: %w", err)
	}
	return PrivateKey{ID: KeyIDOf(pub), Key: priv}, nil
}

// Public returns the key's public half.
func (k PrivateKey) Public() PublicKey {
	return PublicKey{ID: k.ID, Key: k.Key.Public().(ed25519.PublicKey)}
}

// Marshal encodes the private key as PKCS #8 PEM, the form openssl and
// Go read, after a comment line naming its ID.
func (k PrivateKey) Marshal() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", k.ID, err)
	}
	return withComment(fmt.Sprintf("edgegate update signing key, private, key id %s", k.ID), "PRIVATE KEY", der), nil
}

// Marshal encodes the public key as PKIX PEM after a comment line naming
// its ID.
func (k PublicKey) Marshal() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Key)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", k.ID, err)
	}
	return withComment(fmt.Sprintf("edgegate update signing key, public, key id %s", k.ID), "PUBLIC KEY", der), nil
}

// withComment is a PEM block preceded by a "# " line; PEM readers skip
// text before a block.
func withComment(comment, typ string, der []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", comment)
	pem.Encode(&b, &pem.Block{Type: typ, Bytes: der}) // writes to memory: cannot fail
	return b.Bytes()
}

// ParsePrivateKey reads a key written by PrivateKey.Marshal.
func ParsePrivateKey(data []byte) (PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return PrivateKey{}, fmt.Errorf("private key: no PRIVATE KEY PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return PrivateKey{}, fmt.Errorf("private key: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return PrivateKey{}, fmt.Errorf("private key: a %T, want ed25519", k)
	}
	return PrivateKey{ID: KeyIDOf(priv.Public().(ed25519.PublicKey)), Key: priv}, nil
}

// KeyRing is the set of public keys a device trusts.
type KeyRing struct {
	keys map[KeyID]ed25519.PublicKey
}

// NewKeyRing returns a ring of the given keys.
func NewKeyRing(keys ...PublicKey) KeyRing {
	r := KeyRing{keys: map[KeyID]ed25519.PublicKey{}}
	for _, k := range keys {
		r.keys[k.ID] = k.Key
	}
	return r
}

// Lookup returns the key with the ID.
func (r KeyRing) Lookup(id KeyID) (ed25519.PublicKey, bool) {
	k, ok := r.keys[id]
	return k, ok
}

// IDs lists the ring's key IDs, sorted.
func (r KeyRing) IDs() []string {
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id.String())
	}
	sort.Strings(ids)
	return ids
}

// ParseKeyRing reads one or more PUBLIC KEY PEM blocks (public key files,
// concatenated); text between blocks is ignored. A block of another type,
// a key that is not ed25519 or no key at all is an error: a device must
// not end up trusting less, or something else, than was meant.
func ParseKeyRing(data []byte) (KeyRing, error) {
	var keys []PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		k, err := parsePublicBlock(block)
		if err != nil {
			return KeyRing{}, fmt.Errorf("key %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return KeyRing{}, fmt.Errorf("no PUBLIC KEY PEM block")
	}
	return NewKeyRing(keys...), nil
}

// ParsePublicKey reads one public key file.
func ParsePublicKey(data []byte) (PublicKey, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return PublicKey{}, fmt.Errorf("public key: no PEM block")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return PublicKey{}, fmt.Errorf("public key: more than one PEM block")
	}
	return parsePublicBlock(block)
}

func parsePublicBlock(block *pem.Block) (PublicKey, error) {
	if block.Type != "PUBLIC KEY" {
		return PublicKey{}, fmt.Errorf("a %s PEM block, want PUBLIC KEY", block.Type)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("public key: %w", err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("public key: a %T, want ed25519", k)
	}
	return PublicKey{ID: KeyIDOf(pub), Key: pub}, nil
}

// ReadKeyRing reads the trusted keys from a file (TrustedKeysPath on a
// device).
func ReadKeyRing(path string) (KeyRing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return KeyRing{}, fmt.Errorf("update keys: %w", err)
	}
	r, err := ParseKeyRing(data)
	if err != nil {
		return KeyRing{}, fmt.Errorf("update keys %s: %w", path, err)
	}
	return r, nil
}
