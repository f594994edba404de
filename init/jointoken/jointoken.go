// Package jointoken moves the cloud join token from the boot partition,
// where the image builder puts it, to the data partition, where edgecore
// reads it, and erases it from the boot partition.
//
// The token buys the node its certificate, so it is a secret. It is not in
// the initramfs (that would put it in every boot's RAM, world-readable,
// and in the slot for as long as the slot lives) but in a file of its own
// on the boot partition, which no update rewrites: on the first boot with
// a persistent /var, init moves it to Path (0600, in a 0700 directory),
// makes that durable, then overwrites the boot partition's copy with zeros
// and removes it. edgecore erases Path once the token has bought a
// certificate that is stored durably. The image file itself keeps the
// token for as long as it is kept: that is inherent to baking one in.
package jointoken

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// BootFile is the token's file name on the boot partition.
const BootFile = "join-token"

// Path is where edgecore reads the token (its --bootstrap-file).
const Path = "/var/lib/kubeedge/bootstrap-edgecore.conf"

// Outcome says what Handover did.
type Outcome int

// Outcomes.
const (
	None   Outcome = iota // no token on the boot partition
	Moved                 // copied to the data partition and erased from the boot partition
	Copied                // copied to a non-persistent /var, kept on the boot partition for a later boot
)

func (o Outcome) String() string {
	switch o {
	case Moved:
		return "join token moved from the boot partition to " + Path + " (0600) and erased from the boot partition"
	case Copied:
		return "join token copied to " + Path + " on a /var that does not persist; kept on the boot partition until one does"
	}
	return "no join token on the boot partition"
}

// Handover moves bootDir/BootFile to dest. With persistent false (/var is
// a tmpfs) the token is copied but kept on the boot partition, so a later
// boot with a working data partition can still join. A token file that is
// empty or holds more than one word is left where it is, and named in the
// error.
func Handover(bootDir, dest string, persistent bool) (Outcome, error) {
	src := filepath.Join(bootDir, BootFile)
	raw, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return None, nil
	}
	if err != nil {
		return None, fmt.Errorf("join token: %w", err)
	}
	token := bytes.TrimSpace(raw)
	if len(token) == 0 || len(bytes.Fields(token)) != 1 {
		return None, fmt.Errorf("join token: %s holds %d words, want the token alone; left in place", src, len(bytes.Fields(token)))
	}
	if err := atomicfile.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return None, fmt.Errorf("join token: %w", err)
	}
	if err := atomicfile.WriteFile(dest, append(token, '\n'), 0o600); err != nil {
		return None, fmt.Errorf("join token: %w", err)
	}
	if !persistent {
		return Copied, nil
	}
	if err := erase(src, len(raw)); err != nil {
		return Moved, fmt.Errorf("join token: copied to %s, but erasing it from the boot partition: %w", dest, err)
	}
	return Moved, nil
}

// erase overwrites the file's bytes in place before removing it: FAT
// does not copy on write, so the token's clusters then hold zeros rather
// than a deleted but readable token.
func erase(path string, size int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return atomicfile.Remove(path)
}
