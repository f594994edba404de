package link

import (
	"errors"
	"testing"
	"time"
)

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name, frame, wantErr string
	}{
		{"pod insert", `{"header":{"msg_id":"a","timestamp":1,"resourceversion":"5"},"route":{"source":"edgecontroller","group":"resource","operation":"insert","resource":"default/pod/p"},"content":{"kind":"Pod"}}` + "\n", ""},
		{"ack reply", `{"header":{"msg_id":"a","parent_msg_id":"b","timestamp":1},"route":{"operation":"response"},"content":"OK"}`, ""},
		{"not json", `{`, "unexpected end"},
		{"null", `null`, "msg_id is empty"},
		{"array", `[1,2]`, "cannot unmarshal array"},
		{"timestamp string", `{"header":{"msg_id":"a","timestamp":"x"},"route":{"operation":"insert"}}`, "cannot unmarshal string"},
		{"route string", `{"header":{"msg_id":"a"},"route":"x"}`, "cannot unmarshal string"},
		{"no operation", `{"header":{"msg_id":"a"},"route":{"group":"resource"}}`, "operation is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := DecodeFrame([]byte(tt.frame))
			if tt.wantErr == "" {
				if err != nil || msg == nil {
					t.Fatalf("DecodeFrame: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadFrame) || !contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want ErrBadFrame mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzDecodeFrame: any bytes either decode into a routable message or are
// rejected with ErrBadFrame; never a panic.
func FuzzDecodeFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := DecodeFrame(data)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		if msg.Header.ID == "" || msg.Router.Operation == "" {
			t.Fatalf("accepted unroutable message %+v", msg)
		}
		if _, err := msg.ContentData(); err != nil {
			t.Fatalf("accepted message whose content does not encode: %v", err)
		}
	})
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 8 * time.Second}
	wantBase := []time.Duration{1, 2, 4, 8, 8, 8}
	for i, base := range wantBase {
		d := b.Next()
		lo, hi := base*time.Second*3/4, base*time.Second*5/4
		if d < lo || d >= hi {
			t.Fatalf("attempt %d: %s outside [%s,%s)", i, d, lo, hi)
		}
	}
	b.Reset()
	if d := b.Next(); d >= 5*time.Second/4 {
		t.Fatalf("after Reset: %s, want about Min", d)
	}
}

func TestJitter(t *testing.T) {
	for _, tt := range []struct {
		u    float64
		want time.Duration
	}{{0, 750 * time.Millisecond}, {0.5, time.Second}, {0.75, 1125 * time.Millisecond}} {
		if got := jitter(time.Second, tt.u); got.Round(time.Millisecond) != tt.want {
			t.Errorf("jitter(1s, %v) = %s, want %s", tt.u, got, tt.want)
		}
	}
}
