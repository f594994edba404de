package containerlog

import (
	"testing"
	"time"
)

func TestAppendRecordByteExact(t *testing.T) {
	cest := time.FixedZone("CEST", 2*3600)
	tests := []struct {
		name    string
		ts      time.Time
		stream  string
		partial bool
		text    string
		want    string
	}{
		{"full line", testEpoch, Stdout, false, "hello world", "2026-01-02T03:04:05.123456789Z stdout F hello world\n"},
		{"stderr", testEpoch, Stderr, false, "oops", "2026-01-02T03:04:05.123456789Z stderr F oops\n"},
		{"partial", testEpoch, Stdout, true, "abc", "2026-01-02T03:04:05.123456789Z stdout P abc\n"},
		{"empty line keeps the delimiter", testEpoch, Stdout, false, "", "2026-01-02T03:04:05.123456789Z stdout F \n"},
		{"RFC3339Nano trims trailing zeros", time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC), Stdout, false, "x", "2026-01-02T03:04:05.12Z stdout F x\n"},
		{"whole second", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Stdout, false, "x", "2026-01-02T03:04:05Z stdout F x\n"},
		{"zone offset", time.Date(2026, 1, 2, 3, 4, 5, 1, cest), Stdout, false, "x", "2026-01-02T03:04:05.000000001+02:00 stdout F x\n"},
		{"spaces and carriage returns are text", testEpoch, Stdout, false, " a\rb ", "2026-01-02T03:04:05.123456789Z stdout F  a\rb \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := tt.ts.AppendFormat(nil, timestampLayout)
			got := string(appendRecord([]byte("prefix|"), ts, tt.stream, tt.partial, []byte(tt.text)))
			if got != "prefix|"+tt.want {
				t.Errorf("got %q, want %q", got, "prefix|"+tt.want)
			}
			if n := len(ts) + len(tt.stream) + len(tt.text) + recordOverhead; n != len(tt.want) {
				t.Errorf("size formula gives %d, record is %d bytes", n, len(tt.want))
			}
		})
	}
}

func TestParseRecord(t *testing.T) {
	tests := []struct {
		line        string
		wantErr     bool
		wantStream  string
		wantPartial bool
		wantText    string
	}{
		{line: "2026-01-02T03:04:05.123456789Z stdout F hello world", wantStream: Stdout, wantText: "hello world"},
		{line: "2026-01-02T03:04:05Z stderr P part", wantStream: Stderr, wantPartial: true, wantText: "part"},
		{line: "2026-01-02T03:04:05Z stdout F ", wantStream: Stdout, wantText: ""},
		{line: "2026-01-02T03:04:05Z stdout P:x:y more", wantStream: Stdout, wantPartial: true, wantText: "more"},
		{line: "2026-01-02T03:04:05+02:00 stdout F a  b", wantStream: Stdout, wantText: "a  b"},
		{line: "not-a-time stdout F x", wantErr: true},
		{line: "2026-01-02T03:04:05Z stdin F x", wantErr: true},
		{line: "2026-01-02T03:04:05Z stdout", wantErr: true},
		{line: "2026-01-02T03:04:05Z stdout F", wantErr: true},
		{line: "", wantErr: true},
		{line: `{"log":"docker json","stream":"stdout"}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			r, err := parseRecord([]byte(tt.line))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if r.stream != tt.wantStream || r.partial != tt.wantPartial || string(r.text) != tt.wantText {
				t.Errorf("got %s partial=%v %q, want %s partial=%v %q", r.stream, r.partial, r.text, tt.wantStream, tt.wantPartial, tt.wantText)
			}
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	ts := testEpoch.AppendFormat(nil, timestampLayout)
	rec := appendRecord(nil, ts, Stderr, true, []byte("a b\rc"))
	r, err := parseRecord(rec[:len(rec)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !r.time.Equal(testEpoch) || r.stream != Stderr || !r.partial || string(r.text) != "a b\rc" {
		t.Errorf("round trip gave %+v", r)
	}
}
