package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// UnknownFieldError is a field that is neither edgegate's nor KubeEdge's:
// almost always a typo.
type UnknownFieldError struct {
	Path       string // dotted path in the file
	Suggestion string // closest known field at that level, if any
	Hint       string // what to write instead, for a known mistake
}

func (e *UnknownFieldError) Error() string {
	i := strings.LastIndexByte(e.Path, '.')
	msg := fmt.Sprintf("%s: unknown field %q", e.Path, e.Path[i+1:])
	switch {
	case e.Hint != "":
		msg += " (" + e.Hint + ")"
	case e.Suggestion != "":
		msg += fmt.Sprintf(" (did you mean %q?)", e.Suggestion)
	}
	return msg
}

// hints explain unknown fields people write for a reason.
var hints = map[string]string{
	"modules.edged.tailoredKubeletFlag": "KubeEdge's schema has no such section: hostnameOverride, nodeIP, nodeLabels and the other kubelet flags sit directly under modules.edged",
}

// decode reads a YAML document over cfg. Duplicate keys are rejected;
// fields of KubeEdge's schema that edgegate does not model are set aside
// and returned; any other unknown field is an *UnknownFieldError.
func decode(data []byte, cfg *EdgeCoreConfig) (ignored []string, err error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, nil // empty file: all defaults
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the document must be a mapping, not %T", doc)
	}
	w := walker{kubeEdgeOnly: kubeEdgeOnlyFields()}
	w.walk(root, reflect.TypeOf(*cfg), "")
	if len(w.errs) > 0 {
		return nil, errors.Join(w.errs...)
	}
	if js, err = json.Marshal(root); err != nil {
		return nil, err
	}
	strict := json.NewDecoder(bytes.NewReader(js))
	strict.DisallowUnknownFields()
	if err := strict.Decode(cfg); err != nil {
		return nil, err
	}
	return w.ignored, nil
}

// walker compares a decoded document with the Go types it will fill.
type walker struct {
	kubeEdgeOnly map[string]bool
	ignored      []string
	errs         []error
}

func (w *walker) walk(m map[string]any, t reflect.Type, prefix string) {
	fields := jsonFields(t)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		path := key
		if prefix != "" {
			path = prefix + "." + key
		}
		ft, ok := fields[key]
		switch {
		case ok:
			// Wrong types (a string for a section) are left to the
			// typed decode, which names the field.
			if sub, isMap := m[key].(map[string]any); isMap && ft.Kind() == reflect.Struct {
				w.walk(sub, ft, path)
			}
		case w.kubeEdgeOnly[path]:
			delete(m, key)
			w.ignored = append(w.ignored, path)
		default:
			w.errs = append(w.errs, &UnknownFieldError{Path: path, Suggestion: closest(key, w.namesAt(prefix, fields)), Hint: hints[path]})
		}
	}
}

// namesAt lists the field names valid under prefix: modelled ones and
// KubeEdge's.
func (w *walker) namesAt(prefix string, fields map[string]reflect.Type) []string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	for path := range w.kubeEdgeOnly {
		i := strings.LastIndexByte(path, '.')
		if i > 0 && path[:i] == prefix {
			names = append(names, path[i+1:])
		}
	}
	return names
}

// jsonFields maps the JSON names of a struct's fields to their types,
// pointers removed. Embedded structs without a JSON name are inlined, as
// encoding/json (and KubeEdge's schema) inline them.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for k, v := range jsonFields(ft) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

// closest returns the known name nearest to key (case-insensitive match
// or at most two edits), or "".
func closest(key string, known []string) string {
	best, bestDist := "", 3
	for _, name := range known {
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
