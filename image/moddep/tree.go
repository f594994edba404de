package moddep

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Tree is the set of modules of one kernel release.
type Tree struct {
	// Root is the directory holding the module files (lib/modules/<release>).
	Root    string
	modules map[string]Info
	builtin map[string]bool
}

// Scan reads every .ko under root and root/modules.builtin.
func Scan(root string) (*Tree, error) {
	t := &Tree{Root: root, modules: map[string]Info{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		info, err := ReadInfo(f, strings.TrimSuffix(d.Name(), ".ko"), rel)
		if err != nil {
			return err
		}
		t.modules[info.Name] = info
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning modules in %s: %w", root, err)
	}
	if len(t.modules) == 0 {
		return nil, fmt.Errorf("scanning modules in %s: no .ko files", root)
	}
	if err := t.readBuiltin(filepath.Join(root, "modules.builtin")); err != nil {
		return nil, err
	}
	return t, nil
}

// NewTree builds a tree from already parsed modules and modules.builtin
// lines, for callers that read modules from elsewhere.
func NewTree(mods []Info, builtin []string) *Tree {
	t := &Tree{modules: map[string]Info{}, builtin: map[string]bool{}}
	for _, m := range mods {
		t.modules[m.Name] = m
	}
	for _, b := range builtin {
		if n := builtinName(b); n != "" {
			t.builtin[n] = true
		}
	}
	return t
}

func (t *Tree) readBuiltin(file string) error {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n := builtinName(sc.Text()); n != "" {
			t.builtin[n] = true
		}
	}
	return sc.Err()
}

// builtinName turns a modules.builtin line (kernel/fs/ext4/ext4.ko) into
// the module's canonical name.
func builtinName(line string) string {
	base := path.Base(strings.TrimSpace(line))
	if base == "." || base == "/" || base == "" {
		return ""
	}
	return Canonical(strings.TrimSuffix(base, ".ko"))
}

// Len is the number of loadable modules in the tree.
func (t *Tree) Len() int { return len(t.modules) }

// lookup finds modules by name or, failing that, by alias pattern, as
// modprobe does. Several modules may answer one alias (crc32c has a generic
// and an accelerated one); all are returned, sorted, so the order is stable.
func (t *Tree) lookup(name string) []string {
	c := Canonical(name)
	if _, ok := t.modules[c]; ok {
		return []string{c}
	}
	var hits []string
	for n, m := range t.modules {
		for _, a := range m.Aliases {
			if ok, _ := path.Match(a, name); ok {
				hits = append(hits, n)
				break
			}
		}
	}
	sort.Strings(hits)
	return hits
}

// Resolve returns the modules to load for the requested names, every
// module after all it depends on, without duplicates. Built-in modules are
// skipped. An unknown name is an error; an unresolvable soft dependency is
// not (modprobe ignores those too).
func (t *Tree) Resolve(names []string) ([]Info, error) {
	r := resolver{t: t, state: map[string]int{}}
	for _, n := range names {
		c := Canonical(n)
		if t.builtin[c] {
			continue
		}
		if _, ok := t.modules[c]; !ok {
			return nil, fmt.Errorf("module %q: not in kernel modules (nor built in)", n)
		}
		if err := r.visit(c, nil); err != nil {
			return nil, err
		}
	}
	return r.order, nil
}

type resolver struct {
	t     *Tree
	state map[string]int // 1 visiting, 2 done
	order []Info
}

func (r *resolver) visit(name string, chain []string) error {
	switch r.state[name] {
	case 2:
		return nil
	case 1:
		return fmt.Errorf("module dependency cycle: %s -> %s", strings.Join(chain, " -> "), name)
	}
	m, ok := r.t.modules[name]
	if !ok {
		if r.t.builtin[name] {
			r.state[name] = 2
			return nil
		}
		return fmt.Errorf("module %q needed by %s: not found", name, strings.Join(chain, " -> "))
	}
	r.state[name] = 1
	chain = append(chain, name)
	for _, d := range m.Depends {
		if err := r.visit(d, chain); err != nil {
			return err
		}
	}
	for _, s := range m.Pre {
		if err := r.visitSoft(s, chain); err != nil {
			return err
		}
	}
	r.state[name] = 2
	r.order = append(r.order, m)
	for _, s := range m.Post {
		if err := r.visitSoft(s, chain[:len(chain)-1]); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolver) visitSoft(alias string, chain []string) error {
	for _, hit := range r.t.lookup(alias) {
		if r.state[hit] == 1 {
			continue // a soft dependency back onto the chain is not a cycle
		}
		if err := r.visit(hit, chain); err != nil {
			return err
		}
	}
	return nil
}
