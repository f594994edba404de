package podstatus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// This file is apimachinery's strategicpatch.CreateTwoWayMergePatch for
// v1.Pod documents as Patch builds them (uid and status), byte for byte.
// Importing strategicpatch would pull kube-openapi, gnostic and go-openapi
// into edgecore (about 4 MiB on arm64) for one diff whose schema is four
// lists; the tests check the two agree.

// mergeList is the strategic-merge metadata of a list field of v1.Pod
// (its patchStrategy "merge" and patchMergeKey tags). Every other list is
// atomic: replaced whole when it changed.
type mergeList struct {
	key        string
	retainKeys bool // patchStrategy "merge,retainKeys"
}

// podMergeList finds the merge lists a status patch can touch by JSON
// path, that of a list's elements being the list's.
func podMergeList(path string) (mergeList, bool) {
	switch path {
	case "status.conditions":
		return mergeList{key: "type"}, true
	case "status.podIPs", "status.hostIPs":
		return mergeList{key: "ip"}, true
	case "status.resourceClaimStatuses":
		return mergeList{key: "name", retainKeys: true}, true
	case "status.nodeAllocatableResourceClaimStatuses":
		return mergeList{key: "resourceClaimName"}, true
	case "status.nodeAllocatableResourceClaimStatuses.mapping", "status.nodeAllocatableResourceClaimStatuses.overhead":
		return mergeList{key: "name"}, true
	}
	return mergeList{}, false
}

// Strategic-merge directives.
const (
	directiveMarker     = "$patch"
	deleteDirective     = "delete"
	retainKeysDirective = "$retainKeys"
	setOrderPrefix      = "$setElementOrder/"
)

// twoWayPatch is the two-way strategic merge patch from original to
// modified, JSON documents of v1.Pod.
func twoWayPatch(original, modified []byte) ([]byte, error) {
	o, err := decodeObject(original)
	if err != nil {
		return nil, fmt.Errorf("decode original: %w", err)
	}
	m, err := decodeObject(modified)
	if err != nil {
		return nil, fmt.Errorf("decode modified: %w", err)
	}
	return json.Marshal(diffMaps(o, m, "", false))
}

// decodeObject keeps numbers as written, so that they compare and encode
// again exactly.
func decodeObject(doc []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	m := map[string]any{}
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// diffMaps is the patch taking map o to m: changed and added fields, null
// for removed ones, recursing into maps and merge lists. retainKeys adds
// the list of m's fields, for an element of a retainKeys list.
func diffMaps(o, m map[string]any, path string, retainKeys bool) map[string]any {
	patch := map[string]any{}
	var retained []string
	for key, mv := range m {
		if retainKeys && mv != nil {
			retained = append(retained, key)
		}
		ov, ok := o[key]
		if !ok || reflect.TypeOf(ov) != reflect.TypeOf(mv) {
			patch[key] = mv
			continue
		}
		sub := join(path, key)
		switch ov := ov.(type) {
		case map[string]any:
			if p := diffMaps(ov, mv.(map[string]any), sub, false); len(p) > 0 {
				patch[key] = p
			}
		case []any:
			diffSlices(patch, key, ov, mv.([]any), sub)
		default:
			if !reflect.DeepEqual(ov, mv) {
				patch[key] = mv
			}
		}
	}
	for key := range o {
		if _, ok := m[key]; !ok {
			patch[key] = nil
		}
	}
	if len(retained) > 0 && (len(patch) > 0 || hasRemovedField(o, m)) {
		sort.Strings(retained)
		keys := make([]any, len(retained))
		for i, k := range retained {
			keys[i] = k
		}
		patch[retainKeysDirective] = keys
	}
	return patch
}

func hasRemovedField(o, m map[string]any) bool {
	for k, v := range o {
		if _, ok := m[k]; !ok && v != nil {
			return true
		}
	}
	return false
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// diffSlices puts into patch the change of list key from o to m: the whole
// list for an atomic one; for a merge list the changed and added elements,
// deletion directives for the removed ones, and the order of m.
func diffSlices(patch map[string]any, key string, o, m []any, path string) {
	ml, merge := podMergeList(path)
	if !merge || !objectsWithKey(o, ml.key) || !objectsWithKey(m, ml.key) {
		if !reflect.DeepEqual(o, m) {
			patch[key] = m
		}
		return
	}
	if len(o) == 0 {
		if len(m) > 0 {
			patch[key] = m
		}
		return
	}
	changes := diffListsOfMaps(o, m, ml, path)
	if len(changes) > 0 || !sameOrder(o, m, ml.key) {
		order := make([]any, len(m))
		for i, e := range m {
			order[i] = map[string]any{ml.key: e.(map[string]any)[ml.key]}
		}
		patch[setOrderPrefix+key] = order
	}
	if len(changes) > 0 {
		patch[key] = changes
	}
}

// diffListsOfMaps pairs the elements of o and m by merge key: the patch of
// each changed pair, each added element whole, all in m's order, then a
// deletion directive for each removed one, in merge key order.
func diffListsOfMaps(o, m []any, ml mergeList, path string) []any {
	os, ms := sortedByKey(o, ml.key), sortedByKey(m, ml.key)
	var changed, deleted []any
	i, j := 0, 0
	for i < len(os) || j < len(ms) {
		var ok, mk string
		if i < len(os) {
			ok = keyString(os[i], ml.key)
		}
		if j < len(ms) {
			mk = keyString(ms[j], ml.key)
		}
		switch {
		case i < len(os) && j < len(ms) && ok == mk:
			oe, me := os[i].(map[string]any), ms[j].(map[string]any)
			if p := diffMaps(oe, me, path, ml.retainKeys); len(p) > 0 {
				p[ml.key] = me[ml.key]
				changed = append(changed, p)
			}
			i++
			j++
		case i >= len(os) || (j < len(ms) && ok > mk):
			changed = append(changed, ms[j])
			j++
		default:
			deleted = append(deleted, map[string]any{ml.key: os[i].(map[string]any)[ml.key], directiveMarker: deleteDirective})
			i++
		}
	}
	inOrderOf(changed, m, ml.key)
	return append(changed, deleted...)
}

// sortedByKey is a copy of list sorted by the merge key's text.
func sortedByKey(list []any, key string) []any {
	out := append([]any(nil), list...)
	sort.SliceStable(out, func(a, b int) bool { return keyString(out[a], key) < keyString(out[b], key) })
	return out
}

func keyString(e any, key string) string {
	return fmt.Sprint(e.(map[string]any)[key])
}

// inOrderOf sorts list (elements of order, by merge key) as in order.
func inOrderOf(list, order []any, key string) {
	at := make(map[string]int, len(order))
	for i, e := range order {
		at[keyString(e, key)] = i
	}
	sort.SliceStable(list, func(a, b int) bool { return at[keyString(list[a], key)] < at[keyString(list[b], key)] })
}

// objectsWithKey reports whether every element of list is an object with
// the merge key, as a merge list's are.
func objectsWithKey(list []any, key string) bool {
	for _, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			return false
		}
		if _, ok := obj[key]; !ok {
			return false
		}
	}
	return true
}

func sameOrder(o, m []any, key string) bool {
	if len(o) != len(m) {
		return false
	}
	for i := range o {
		if keyString(o[i], key) != keyString(m[i], key) {
			return false
		}
	}
	return true
}
