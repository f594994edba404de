// Package moddep resolves which kernel module files an image needs and in
// what order to load them, from the .modinfo section of each module, so no
// depmod or modprobe is needed on the build host or in the image.
package moddep

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"strings"
)

// Info is what a module's .modinfo says about its dependencies.
type Info struct {
	Name    string   // canonical name: dashes folded to underscores
	Path    string   // relative to the module tree root (lib/modules/<release>)
	Depends []string // hard dependencies, loaded first
	Pre     []string // softdep pre: names or aliases loaded first
	Post    []string // softdep post: names or aliases loaded after
	Aliases []string // patterns this module answers to
}

// Canonical folds a module name the way the kernel does (dashes and
// underscores are the same).
func Canonical(name string) string {
	return strings.ReplaceAll(name, "-", "_")
}

// ReadInfo parses the .modinfo section of the ELF module read from r.
func ReadInfo(r io.ReaderAt, name, path string) (Info, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return Info{}, fmt.Errorf("module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return Info{}, fmt.Errorf("module %s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return Info{}, fmt.Errorf("module %s: reading .modinfo: %w", path, err)
	}
	info := Info{Name: Canonical(name), Path: path}
	for _, field := range bytes.Split(data, []byte{0}) {
		key, value, ok := strings.Cut(string(field), "=")
		if !ok {
			continue
		}
		switch key {
		case "depends":
			for _, d := range strings.Split(value, ",") {
				if d = strings.TrimSpace(d); d != "" {
					info.Depends = append(info.Depends, Canonical(d))
				}
			}
		case "softdep":
			pre, post := parseSoftdep(value)
			info.Pre = append(info.Pre, pre...)
			info.Post = append(info.Post, post...)
		case "alias":
			info.Aliases = append(info.Aliases, value)
		case "name":
			info.Name = Canonical(value)
		}
	}
	return info, nil
}

// parseSoftdep splits "pre: a b post: c" into its two lists.
func parseSoftdep(s string) (pre, post []string) {
	var cur *[]string
	for _, w := range strings.Fields(s) {
		switch w {
		case "pre:":
			cur = &pre
		case "post:":
			cur = &post
		default:
			if cur != nil {
				*cur = append(*cur, w)
			}
		}
	}
	return pre, post
}
