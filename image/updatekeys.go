package image

import (
	"bytes"
	"fmt"
	"path"
	"sort"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/image/initramfs"
)

// buildNumber is the default build number: the build's epoch. The epoch
// is the one input every build already fixes for reproducibility, so the
// same source built twice gets the same number; set from the source's
// commit time (`--epoch $(git log -1 --format=%ct)`, as
// SOURCE_DATE_EPOCH is), it grows with every commit, which is what an
// update's "no older build" check needs.
func buildNumber(epoch int64) uint64 { return uint64(epoch) }

// addUpdateKeys puts the trusted update keys into the root image, each
// once, sorted by key ID so the file's bytes do not depend on the order
// the keys were given in.
func (o Options) addUpdateKeys(root *initramfs.Archive) error {
	if len(o.UpdateKeys) == 0 {
		return nil
	}
	data, ids, err := UpdateKeysFile(o.UpdateKeys)
	if err != nil {
		return err
	}
	if err := mkdirs(root, path.Dir(bundle.TrustedKeysPath)); err != nil {
		return err
	}
	o.Progress("update keys: %v", ids)
	return root.File(bundle.TrustedKeysPath, data, 0o644)
}

// UpdateKeysFile checks public key files and returns the trusted keys
// file made of them, with their key IDs. A private key, or anything but
// one ed25519 public key per file, is refused: the root image is readable
// by whoever holds a card.
func UpdateKeysFile(files [][]byte) ([]byte, []string, error) {
	return keysFile("update key", files)
}

// keysFile is a file of public keys, each once, sorted by key ID; what
// names a key in an error ("update key 2").
func keysFile(what string, files [][]byte) ([]byte, []string, error) {
	keys := map[string]bundle.PublicKey{}
	for i, f := range files {
		k, err := bundle.ParsePublicKey(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %d: %w", what, i+1, err)
		}
		keys[k.ID.String()] = k
	}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out bytes.Buffer
	for _, id := range ids {
		pem, err := keys[id].Marshal()
		if err != nil {
			return nil, nil, err
		}
		out.Write(pem)
	}
	return out.Bytes(), ids, nil
}
