package power

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

func event(typ, code uint16, value int32) []byte {
	b := make([]byte, unsafe.Sizeof(inputEvent{}))
	off := 2 * int(unsafe.Sizeof(int(0)))
	binary.NativeEndian.PutUint16(b[off:], typ)
	binary.NativeEndian.PutUint16(b[off+2:], code)
	binary.NativeEndian.PutUint32(b[off+4:], uint32(value))
	return b
}

func TestIsPowerPress(t *testing.T) {
	tests := []struct {
		name string
		ev   []byte
		want bool
	}{
		{"press", event(evKey, keyPower, 1), true},
		{"release", event(evKey, keyPower, 0), false},
		{"autorepeat", event(evKey, keyPower, 2), false},
		{"other key", event(evKey, 28, 1), false},
		{"sync event", event(0, 0, 0), false},
		{"short read", event(evKey, keyPower, 1)[:8], false},
	}
	for _, tt := range tests {
		if got := IsPowerPress(tt.ev); got != tt.want {
			t.Errorf("%s: IsPowerPress = %v, want %v", tt.name, got, tt.want)
		}
	}
}
