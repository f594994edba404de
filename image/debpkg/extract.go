package debpkg

import (
	"archive/tar"
	"bufio"

	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// ExtractFile unpacks the data tree of the .deb at path into dir.
func ExtractFile(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return Extract(bufio.NewReaderSize(f, 1<<20), dir)
}

// Extract unpacks the data tree of a .deb read from r into dir. A .deb is an
// ar archive whose data.tar.{xz,zst,gz} member holds the files. Entries that
// would land outside dir are refused.
func Extract(r io.Reader, dir string) error {
	data, name, err := dataMember(r)
	if err != nil {
		return err
	}
	var tr io.Reader
	switch {
	case strings.HasSuffix(name, ".xz"):
		tr, err = xz.NewReader(data)
	case strings.HasSuffix(name, ".zst"):
		var zr *zstd.Decoder
		zr, err = zstd.NewReader(data)
		if zr != nil {
			defer zr.Close()
		}
		tr = zr
	case strings.HasSuffix(name, ".gz"):
		tr, err = gzip.NewReader(data)
	case name == "data.tar":
		tr = data
	default:
		return fmt.Errorf("unsupported data member %q", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return untar(tar.NewReader(tr), dir)
}

// dataMember walks the ar archive to its data.tar member.
func dataMember(r io.Reader) (io.Reader, string, error) {
	magic := make([]byte, 8)
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != "!<arch>\n" {
		return nil, "", errors.New("not a Debian package: missing ar header")
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, "", errors.New("not a Debian package: no data.tar member")
		}
		name := strings.TrimSuffix(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, "", fmt.Errorf("corrupt ar header for member %q", name)
		}
		if strings.HasPrefix(name, "data.tar") {
			return io.LimitReader(r, size), name, nil
		}
		// Members are padded to an even size.
		if _, err := io.CopyN(io.Discard, r, size+size%2); err != nil {
			return nil, "", fmt.Errorf("truncated ar member %q: %w", name, err)
		}
	}
}

func untar(tr *tar.Reader, dir string) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading data tree: %w", err)
		}
		target, err := within(dir, h.Name)
		if err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFile(target, tr, h.FileInfo().Mode().Perm())
		case tar.TypeSymlink:
			err = symlink(h.Linkname, target)
		case tar.TypeLink:
			var src string
			if src, err = within(dir, h.Linkname); err == nil {
				err = link(src, target)
			}
		default:
			// Device nodes and the like never occur in the packages we use;
			// skipping them keeps the unpack unprivileged.
		}
		if err != nil {
			return fmt.Errorf("unpacking %s: %w", h.Name, err)
		}
	}
}

func within(dir, name string) (string, error) {
	clean := filepath.Clean("/" + name)
	if clean == "/" {
		return dir, nil
	}
	p := filepath.Join(dir, clean)
	if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
		return "", fmt.Errorf("entry %q escapes the package root", name)
	}
	return p, nil
}

func writeFile(path string, r io.Reader, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func symlink(target, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	os.Remove(path)
	return os.Symlink(target, path)
}

func link(src, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	os.Remove(path)
	return os.Link(src, path)
}
