// Package kmod loads the kernel modules the image builder chose, in the
// order it resolved, with finit_module(2). There is no modprobe on the
// device: the list says everything.
package kmod

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// ListPath is where the load list lives inside the image.
const ListPath = "/etc/edgegate/modules.list"

// Entry is one module file to load.
type Entry struct {
	Path     string // absolute path of the .ko in the image
	Required bool   // a failure stops the boot
}

// Format renders a load list: one module per line, "required" after the
// path for modules the boot cannot go on without.
func Format(entries []Entry) []byte {
	var b bytes.Buffer
	b.WriteString("# edgegate kernel modules, in load order\n")
	for _, e := range entries {
		b.WriteString(e.Path)
		if e.Required {
			b.WriteString(" required")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Parse reads a load list.
func Parse(data []byte) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		e := Entry{Path: f[0]}
		for _, flag := range f[1:] {
			if flag != "required" {
				return nil, fmt.Errorf("module list line %d: unknown flag %q", n, flag)
			}
			e.Required = true
		}
		if !strings.HasPrefix(e.Path, "/") {
			return nil, fmt.Errorf("module list line %d: path %q is not absolute", n, e.Path)
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}
