package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgegate/edgegate/boards"
	"github.com/edgegate/edgegate/image"
	"github.com/edgegate/edgegate/image/bundle"
)

// runOTA dispatches the update subcommands.
func runOTA(ctx context.Context, args []string) error {
	sub := map[string]func(context.Context, []string) error{
		"keygen": runKeygen, "bundle": runBundle, "push": runPush, "pull": runPull, "status": runStatus,
	}
	if len(args) == 0 || sub[args[0]] == nil {
		return fmt.Errorf("usage: edgegate ota keygen|bundle|push|pull|status [flags] (see 'edgegate ota keygen --help')")
	}
	return sub[args[0]](ctx, args[1:])
}

// runKeygen writes a new signing key pair: NAME.key (private, 0600) and
// NAME.pub (the public key `edgegate build --ota-key` takes).
func runKeygen(_ context.Context, args []string) error {
	fs := flagSet("ota keygen")
	out := fs.StringP("output", "o", "", "key pair to write: NAME.key (private) and NAME.pub (public) (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("no output name: pass -o NAME")
	}
	k, err := bundle.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	priv, err := k.Marshal()
	if err != nil {
		return err
	}
	pub, err := k.Public().Marshal()
	if err != nil {
		return err
	}
	if err := writeNew(*out+".key", priv, 0o600); err != nil {
		return err
	}
	if err := writeNew(*out+".pub", pub, 0o644); err != nil {
		os.Remove(*out + ".key")
		return err
	}
	fmt.Printf("key id %s: private key %s.key, public key %s.pub\n", k.ID, *out, *out)
	return nil
}

// writeNew creates a file that must not exist yet: a key is never
// overwritten.
func writeNew(name string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// runBundle makes an update bundle of slot A of a built image.
func runBundle(_ context.Context, args []string) error {
	fs := flagSet("ota bundle")
	board := fs.String("board", "", "board the image is built for (required; checked against the image)")
	keyFile := fs.String("key", "", "private signing key ('edgegate ota keygen') (required)")
	img := fs.String("image", "", "image built by 'edgegate build' (required)")
	out := fs.StringP("output", "o", "", "bundle to write (required)")
	minBuild := fs.Uint64("min-build", 0, "oldest build number a gateway may run to take this bundle (default: any)")
	downgrade := fs.Bool("downgrade", false, "allow installing over a newer build (a signed downgrade)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for name, v := range map[string]string{"--board": *board, "--key": *keyFile, "--image": *img, "-o": *out} {
		if v == "" {
			return fmt.Errorf("%s is required", name)
		}
	}
	if _, err := boards.Lookup(*board); err != nil {
		return err
	}
	raw, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	key, err := bundle.ParsePrivateKey(raw)
	if err != nil {
		return fmt.Errorf("--key %s: %w", *keyFile, err)
	}
	info, err := readImageInfo(*img)
	if err != nil {
		return err
	}
	if info.Board != *board {
		return fmt.Errorf("image %s is built for %s, not --board %s", *img, info.Board, *board)
	}
	if info.Build == 0 {
		return fmt.Errorf("image %s records no build number: rebuild it with this edgegate", *img)
	}
	p := bundle.Params{Board: info.Board, Version: info.Version, Build: info.Build, MinBuild: *minBuild, Downgrade: *downgrade}
	m, err := writeBundle(*img, *out, p, key)
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s %s build %d, slot image %d bytes (sha256 %s), payload %d bytes (%s), signed by key %s\n",
		*out, m.Board, m.Version, m.Build, m.ImageSize, m.ImageSHA256, m.PayloadSize, m.Compression, m.KeyID)
	return nil
}

// writeBundle writes the bundle of img's slot A to out through a
// temporary file, so a failure leaves no partial bundle behind.
func writeBundle(img, out string, p bundle.Params, key bundle.PrivateKey) (bundle.Manifest, error) {
	slot, closeImg, err := image.SlotImage(img)
	if err != nil {
		return bundle.Manifest{}, err
	}
	defer closeImg()
	size := slot.Size()
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return bundle.Manifest{}, fmt.Errorf("output %s: %w", out, err)
	}
	defer os.Remove(tmp.Name())
	m, err := bundle.Write(tmp, slot, p, key, filepath.Dir(out))
	if err == nil {
		err = tmp.Chmod(0o644) // a bundle is public; CreateTemp makes 0600
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && m.ImageSize != size {
		err = fmt.Errorf("image %s ends %d bytes into slot A's %d", img, m.ImageSize, size)
	}
	if err != nil {
		return bundle.Manifest{}, fmt.Errorf("bundle %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return bundle.Manifest{}, fmt.Errorf("output %s: %w", out, err)
	}
	return m, nil
}
