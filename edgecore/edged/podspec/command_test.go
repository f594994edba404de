package podspec

import (
	"errors"
	"slices"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	v1 "k8s.io/api/core/v1"
)

func TestCommand(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry", "-v"}, Cmd: []string{"serve", "--port=80"}}
	env := []string{"PORT=8080", "NAME=web", "EMPTY="}
	cases := []struct {
		name          string
		command, args []string
		img           ocispec.ImageConfig
		want          []string
	}{
		{name: "image entrypoint and cmd", img: img, want: []string{"/entry", "-v", "serve", "--port=80"}},
		{name: "args replace cmd", args: []string{"run"}, img: img, want: []string{"/entry", "-v", "run"}},
		{name: "command replaces entrypoint and drops cmd", command: []string{"/bin/sh"}, img: img, want: []string{"/bin/sh"}},
		{name: "command and args", command: []string{"/bin/sh", "-c"}, args: []string{"echo hi"}, img: img, want: []string{"/bin/sh", "-c", "echo hi"}},
		{name: "cmd only image", img: ocispec.ImageConfig{Cmd: []string{"/app"}}, want: []string{"/app"}},
		{name: "args with cmd-only image", args: []string{"/other"}, img: ocispec.ImageConfig{Cmd: []string{"/app"}}, want: []string{"/other"}},
		{name: "empty-string entrypoint counts as none", img: ocispec.ImageConfig{Entrypoint: []string{""}, Cmd: []string{"/app"}}, want: []string{"/app"}},
		{name: "empty command list uses the image's", command: []string{}, img: img, want: []string{"/entry", "-v", "serve", "--port=80"}},
		{
			name:    "expansion",
			command: []string{"/bin/$(NAME)"},
			args:    []string{"--port=$(PORT)", "$$(PORT)", "$(MISSING)", "x$(EMPTY)y", "$PORT"},
			img:     img,
			want:    []string{"/bin/web", "--port=8080", "$(PORT)", "$(MISSING)", "xy", "$PORT"},
		},
		{name: "image entrypoint and cmd are not expanded", img: ocispec.ImageConfig{Entrypoint: []string{"$(NAME)"}, Cmd: []string{"$(PORT)"}}, want: []string{"$(NAME)", "$(PORT)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &v1.Container{Name: "app", Command: tc.command, Args: tc.args}
			got, err := Command(c, tc.img, env)
			if err != nil {
				t.Fatalf("Command: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Command = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCommandEmpty(t *testing.T) {
	for _, img := range []ocispec.ImageConfig{{}, {Entrypoint: []string{""}}} {
		_, err := Command(&v1.Container{Name: "app"}, img, nil)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "command" || ce.Container != "app" {
			t.Errorf("image %+v: error %v, want a ConfigError on command", img, err)
		}
	}
}

func TestCommandDoesNotAliasImage(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"a"}}
	argv, err := Command(&v1.Container{Name: "app"}, img, nil)
	if err != nil {
		t.Fatal(err)
	}
	argv[0] = "changed"
	if img.Entrypoint[0] != "/entry" {
		t.Error("Command's result aliases the image's Entrypoint")
	}
}
