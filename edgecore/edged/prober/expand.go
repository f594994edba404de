package prober

import "strings"

// expandCommand replaces $(VAR) references in each argument with the value of
// VAR in env, with the rules of Kubernetes' container command expansion:
// "$$" is a literal "$", a reference to an unknown variable and an unclosed
// "$(" stay as written, and a "$" before anything else is kept.
func expandCommand(cmd []string, env map[string]string) []string {
	out := make([]string, len(cmd))
	for i, arg := range cmd {
		out[i] = expand(arg, env)
	}
	return out
}

func expand(s string, env map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		rest := s[i+1:]
		switch rest[0] {
		case '$':
			b.WriteByte('$')
			s = rest[1:]
		case '(':
			name, after, closed := strings.Cut(rest[1:], ")")
			if !closed {
				// The kubelet keeps "$(" and goes on scanning after it.
				b.WriteString("$(")
				s = rest[1:]
				continue
			}
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			s = after
		default:
			b.WriteByte('$')
			b.WriteByte(rest[0])
			s = rest[1:]
		}
	}
}
