package containerlog

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type piece struct {
	text    string
	partial bool
}

// splitAll runs the splitter over r to the end.
func splitAll(t *testing.T, r io.Reader, maxLine int) []piece {
	t.Helper()
	s := newSplitter(maxLine)
	var got []piece
	for range 1 << 20 {
		_, err := s.fill(r)
		for {
			text, partial, ok := s.next(err != nil)
			if !ok {
				break
			}
			if len(text) > maxLine {
				t.Fatalf("piece of %d bytes exceeds %d", len(text), maxLine)
			}
			got = append(got, piece{string(text), partial})
		}
		if err != nil {
			return got
		}
	}
	t.Fatal("splitter made no progress")
	return nil
}

func TestSplitter(t *testing.T) {
	const maxLine = 8
	F := func(s string) piece { return piece{s, false} }
	P := func(s string) piece { return piece{s, true} }
	tests := []struct {
		name string
		in   string
		want []piece
	}{
		{"nothing", "", nil},
		{"lines", "a\nbb\n", []piece{F("a"), F("bb")}},
		{"empty line", "\n\n", []piece{F(""), F("")}},
		{"no final newline", "abc", []piece{P("abc")}},
		{"CRLF drops the CR", "a\r\n\r\n", []piece{F("a"), F("")}},
		{"lone CR is text", "a\rb\n", []piece{F("a\rb")}},
		{"only the last CR goes", "a\r\r\n", []piece{F("a\r")}},
		{"CR at end of stream is text", "abc\r", []piece{P("abc\r")}},
		{"exactly max", "12345678\n", []piece{F("12345678")}},
		{"exactly max with CRLF", "12345678\r\n", []piece{F("12345678")}},
		{"max plus one", "123456789\n", []piece{P("12345678"), F("9")}},
		{"max then CR and text", "12345678\rx\n", []piece{P("12345678"), F("\rx")}},
		{"twice max", "1234567812345678\n", []piece{P("12345678"), F("12345678")}},
		{"long line", strings.Repeat("x", 27) + "\nend\n", []piece{P("xxxxxxxx"), P("xxxxxxxx"), P("xxxxxxxx"), F("xxx"), F("end")}},
		{"exactly max at end of stream", "12345678", []piece{P("12345678")}},
		{"max plus one at end of stream", "123456789", []piece{P("12345678"), P("9")}},
		{"max and CR at end of stream", "12345678\r", []piece{P("12345678"), P("\r")}},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"one byte": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"halves":   func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
		"data+EOF": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
	}
	for _, tt := range tests {
		for rname, mk := range readers {
			t.Run(tt.name+"/"+rname, func(t *testing.T) {
				got := splitAll(t, mk(tt.in), maxLine)
				if !equalPieces(got, tt.want) {
					t.Errorf("got %v, want %v", got, tt.want)
				}
			})
		}
	}
}

func TestSplitterReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("done\nhalf"), iotest.ErrReader(boom))
	got := splitAll(t, r, 8)
	want := []piece{{"done", false}, {"half", true}}
	if !equalPieces(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func equalPieces(a, b []piece) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
