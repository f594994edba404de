package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	yamlv3 "gopkg.in/yaml.v3"

	"github.com/edgegate/edgegate/init/atomicfile"
)

// SetFields sets string fields of the configuration file at path, as
// KubeEdge's edgecore does for edgecoreVersion and the used join token.
// Keys are dotted paths ("modules.edgeHub.token"); missing sections are
// created. The file is edited as a YAML tree, so comments, key order and
// fields edgegate does not model are kept. The result must still load,
// and replaces the file atomically with its permissions.
func SetFields(path string, fields map[string]string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("edit config: %w", err)
	}
	out, err := setFields(data, fields)
	if err != nil {
		return fmt.Errorf("edit config %s: %w", path, err)
	}
	if bytes.Equal(out, data) {
		return nil
	}
	if _, err := Parse(out); err != nil {
		return fmt.Errorf("edit config %s: the edited file would not load: %w", path, err)
	}
	mode := os.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	if err := atomicfile.WriteFile(path, out, mode); err != nil {
		return fmt.Errorf("edit config: %w", err)
	}
	return nil
}

// EditFields is SetFields on a configuration held in memory: it returns
// data with the fields set, comments and key order kept, and checks the
// result still loads.
func EditFields(data []byte, fields map[string]string) ([]byte, error) {
	out, err := setFields(data, fields)
	if err != nil {
		return nil, fmt.Errorf("edit config: %w", err)
	}
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("edit config: the edited file would not load: %w", err)
	}
	return out, nil
}

func setFields(data []byte, fields map[string]string) ([]byte, error) {
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 { // empty file
		doc = yamlv3.Node{Kind: yamlv3.DocumentNode, Content: []*yamlv3.Node{{Kind: yamlv3.MappingNode, Tag: "!!map"}}}
	}
	root := doc.Content[0]
	if root.Kind != yamlv3.MappingNode {
		return nil, errors.New("the document is not a mapping")
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	changed := false
	for _, k := range keys {
		c, err := setScalar(root, strings.Split(k, "."), fields[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		changed = changed || c
	}
	if !changed {
		return data, nil
	}
	var buf bytes.Buffer
	enc := yamlv3.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// setScalar sets keys under mapping m to the string value, reporting
// whether anything changed.
func setScalar(m *yamlv3.Node, keys []string, value string) (bool, error) {
	var v *yamlv3.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == keys[0] {
			v = m.Content[i+1]
		}
	}
	if v == nil {
		v = &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!null", Value: ""}
		m.Content = append(m.Content, &yamlv3.Node{Kind: yamlv3.ScalarNode, Tag: "!!str", Value: keys[0]}, v)
	}
	if len(keys) == 1 {
		if v.Kind == yamlv3.ScalarNode && v.Tag == "!!str" && v.Value == value {
			return false, nil
		}
		if v.Kind != yamlv3.ScalarNode {
			return false, fmt.Errorf("is a %s, not a string", kindName(v.Kind))
		}
		v.Tag, v.Value, v.Style = "!!str", value, 0
		return true, nil
	}
	switch {
	case v.Kind == yamlv3.ScalarNode && v.Tag == "!!null":
		*v = yamlv3.Node{Kind: yamlv3.MappingNode, Tag: "!!map"}
	case v.Kind != yamlv3.MappingNode:
		return false, fmt.Errorf("%s is a %s, not a section", keys[0], kindName(v.Kind))
	}
	return setScalar(v, keys[1:], value)
}

func kindName(k yamlv3.Kind) string {
	switch k {
	case yamlv3.SequenceNode:
		return "list"
	case yamlv3.MappingNode:
		return "section"
	case yamlv3.AliasNode:
		return "alias"
	default:
		return "value"
	}
}
