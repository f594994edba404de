package podspec

import "strings"

// expand replaces the $(NAME) references in s the way Kubernetes does for
// env values, command, args and subPathExpr (kubelet's forked
// third_party/forked/golang/expansion):
//   - $(NAME) becomes lookup(NAME) when lookup knows NAME, and stays as
//     written when it does not;
//   - $$ is an escaped $ and becomes a single $, so $$(NAME) is the literal
//     text $(NAME);
//   - a $ followed by anything else, a $ at the end and an unterminated $(
//     are kept as they are.
//
// NAME is everything up to the first ')', so references do not nest.
func expand(s string, lookup func(name string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				// Unterminated: keep "$(" and go on scanning after it.
				b.WriteString("$(")
				i++
				continue
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

// envLookup returns a lookup over an environment in KEY=value form; a key
// given twice has its last value, as in the process's environment.
func envLookup(env []string) func(string) (string, bool) {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}
