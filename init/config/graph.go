package config

import "strings"

// StartOrder returns the indexes of svcs in an order where every service
// comes after all it depends on; among independent services the config
// order is kept, so the console reads as the file does. Unknown
// dependencies are ignored here (Validate reports them); a cycle is an
// error naming it, e.g. "services: dependency cycle a -> b -> a".
func StartOrder(svcs []Service) ([]int, error) {
	index := make(map[string]int, len(svcs))
	for i, s := range svcs {
		if _, dup := index[s.Name]; !dup {
			index[s.Name] = i
		}
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := make([]int, len(svcs))
	order := make([]int, 0, len(svcs))
	var stack []string
	var visit func(i int) error
	visit = func(i int) error {
		switch state[i] {
		case done:
			return nil
		case visiting:
			return cycleError(stack, svcs[i].Name)
		}
		state[i] = visiting
		stack = append(stack, svcs[i].Name)
		for _, d := range svcs[i].DependsOn {
			if j, ok := index[d]; ok && j != i {
				if err := visit(j); err != nil {
					return err
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
		order = append(order, i)
		return nil
	}
	for i := range svcs {
		if err := visit(i); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func cycleError(stack []string, again string) error {
	start := 0
	for i, n := range stack {
		if n == again {
			start = i
			break
		}
	}
	path := append(append([]string{}, stack[start:]...), again)
	return &FieldError{Path: "services", Msg: "dependency cycle " + strings.Join(path, " -> ")}
}
