package podspec

import (
	"context"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestOptsProcess(t *testing.T) {
	cases := []struct {
		name     string
		mutate   func(*Input)
		args     []string
		cwd      string
		env      []string
		terminal bool
	}{{
		name: "image defaults",
		mutate: func(in *Input) {
			in.Env = []string{"PATH=/app/bin:/bin", "IMAGE=1"}
		},
		args: []string{"/app", "serve"},
		cwd:  "/srv",
		env:  []string{"PATH=/app/bin:/bin", "HOSTNAME=web-0", "IMAGE=1"},
	}, {
		name: "container command, workingDir, env and tty",
		mutate: func(in *Input) {
			in.Container.Command = []string{"/bin/sh", "-c", "echo $(GREETING)"}
			in.Container.WorkingDir = "/work"
			in.Container.TTY = true
			in.Container.Stdin = true
			in.Env = []string{"GREETING=hi", "TERM=vt100"}
			in.Hostname = "custom"
		},
		args:     []string{"/bin/sh", "-c", "echo hi"},
		cwd:      "/work",
		env:      []string{"PATH=" + defaultPath, "TERM=vt100", "HOSTNAME=custom", "GREETING=hi"},
		terminal: true,
	}, {
		name: "no working directory anywhere is /",
		mutate: func(in *Input) {
			in.Image.WorkingDir = ""
			in.Env = []string{"HOSTNAME=from-env"}
		},
		args: []string{"/app", "serve"},
		cwd:  "/",
		env:  []string{"PATH=" + defaultPath, "HOSTNAME=from-env"},
	}, {
		name: "a tty sets TERM",
		mutate: func(in *Input) {
			in.Container.TTY = true
		},
		args:     []string{"/app", "serve"},
		cwd:      "/srv",
		env:      []string{"PATH=" + defaultPath, "TERM=xterm", "HOSTNAME=web-0"},
		terminal: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := generate(t, testInput(tc.mutate))
			p := s.Process
			if !slices.Equal(p.Args, tc.args) {
				t.Errorf("Args = %q, want %q", p.Args, tc.args)
			}
			if p.Cwd != tc.cwd {
				t.Errorf("Cwd = %q, want %q", p.Cwd, tc.cwd)
			}
			if !slices.Equal(p.Env, tc.env) {
				t.Errorf("Env = %q, want %q", p.Env, tc.env)
			}
			if p.Terminal != tc.terminal {
				t.Errorf("Terminal = %v, want %v", p.Terminal, tc.terminal)
			}
		})
	}
}

func TestOptsProcessOverridesEarlierOptions(t *testing.T) {
	opts, err := Opts(testInput())
	if err != nil {
		t.Fatal(err)
	}
	// What an option applied before ours (oci.WithImageConfig) may leave.
	stale := func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.Env = []string{"STALE=1"}
		s.Process.Terminal = true
		s.Process.Cwd = "/stale"
		s.Process.Args = []string{"/stale"}
		return nil
	}
	s, err := apply(t, append([]oci.SpecOpts{stale}, opts...))
	if err != nil {
		t.Fatal(err)
	}
	p := s.Process
	if !slices.Equal(p.Env, []string{"PATH=" + defaultPath, "HOSTNAME=web-0"}) || p.Terminal || p.Cwd != "/srv" || !slices.Equal(p.Args, []string{"/app", "serve"}) {
		t.Errorf("earlier process settings survived: %+v", p)
	}
}

func TestOptsKeepsRlimits(t *testing.T) {
	s := generate(t, testInput())
	want := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}}
	if !slices.Equal(s.Process.Rlimits, want) {
		t.Errorf("Rlimits = %+v, want %+v", s.Process.Rlimits, want)
	}
}

func TestOptsCommandError(t *testing.T) {
	in := testInput(func(in *Input) { in.Image.Entrypoint, in.Image.Cmd = nil, nil })
	wantConfigError(t, in, "command", "no command")
}
