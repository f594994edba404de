package podspec

import (
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	v1 "k8s.io/api/core/v1"
)

// Command returns the container's argv, with the rules kubelet and
// containerd's CRI plugin apply together:
//   - $(VAR) in command and args is expanded against env (kubelet's
//     expansion; an unknown VAR stays as written, $$ escapes a $). Kubelet
//     only sees the pod's variables here; env as returned by Env also holds
//     the image's, so those expand too;
//   - command replaces the image's Entrypoint and then drops its Cmd too;
//   - args replace the image's Cmd;
//   - an image Entrypoint of [""] (Docker's "ENTRYPOINT []") counts as none.
//
// An empty argv is a *ConfigError: the pod must give a command.
func Command(c *v1.Container, img ocispec.ImageConfig, env []string) ([]string, error) {
	lookup := envLookup(env)
	command := expandAll(c.Command, lookup)
	args := expandAll(c.Args, lookup)
	if len(command) == 0 {
		if len(args) == 0 {
			args = img.Cmd
		}
		if len(img.Entrypoint) != 1 || img.Entrypoint[0] != "" {
			command = img.Entrypoint
		}
	}
	argv := make([]string, 0, len(command)+len(args))
	argv = append(append(argv, command...), args...)
	if len(argv) == 0 {
		return nil, configError(c.Name, "command", "no command specified: neither the container nor its image has one")
	}
	return argv, nil
}

func expandAll(in []string, lookup func(string) (string, bool)) []string {
	if len(in) == 0 {
		return nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = expand(s, lookup)
	}
	return out
}
