package podspec

import (
	"context"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

// defaultPath is the PATH containerd gives a process whose image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// workingDir is the container's workingDir, else the image's, else "/".
func workingDir(c *v1.Container, imageDir string) string {
	switch {
	case c.WorkingDir != "":
		return c.WorkingDir
	case imageDir != "":
		return imageDir
	}
	return "/"
}

// withProcess sets the process's argv, working directory, environment and
// terminal outright, so that the result does not depend on options applied
// before it (such as oci.WithImageConfig).
//
// The environment is built as containerd's CRI plugin builds it: the
// default PATH, TERM=xterm for a tty, HOSTNAME, then env (the image's
// variables and the container's, from Env); a later key replaces an earlier
// one in place.
func withProcess(argv []string, cwd string, env []string, hostname string, tty bool) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		p := s.Process
		p.Args = argv
		p.CommandLine = ""
		p.Cwd = cwd
		p.Terminal = tty

		l := newEnvList()
		l.set("PATH", defaultPath)
		if tty {
			l.set("TERM", "xterm")
		}
		l.set("HOSTNAME", hostname)
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				l.set(k, v)
			}
		}
		p.Env = l.entries()
		return nil
	}
}
