package prober

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	env := map[string]string{"FOO": "foo", "EMPTY": "", "A$(B": "odd"}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(FOO)", "foo"},
		{"x-$(FOO)-y", "x-foo-y"},
		{"$(FOO)$(FOO)", "foofoo"},
		{"$(EMPTY)", ""},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(FOO)", "$(FOO)"},
		{"$$", "$"},
		{"$$$(FOO)", "$foo"},
		{"$FOO", "$FOO"},
		{"cost $5", "cost $5"},
		{"trailing $", "trailing $"},
		{"$(FOO", "$(FOO"},
		{"$(unclosed $(FOO)", "$(unclosed $(FOO)"},
		{"$(A$(B)", "odd"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := expand(tc.in, env); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestExpandCommandKeepsArguments(t *testing.T) {
	in := []string{"sh", "-c", "test -f $(FILE)"}
	got := expandCommand(in, map[string]string{"FILE": "/tmp/ok"})
	want := []string{"sh", "-c", "test -f /tmp/ok"}
	if !slices.Equal(got, want) {
		t.Errorf("expandCommand = %q, want %q", got, want)
	}
	if in[2] != "test -f $(FILE)" {
		t.Errorf("expandCommand changed its input: %q", in)
	}
}
