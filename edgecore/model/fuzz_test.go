package model

import "testing"

// FuzzDecodeMessage checks that decoding arbitrary bytes never panics and that
// whatever decodes also encodes and decodes again.
func FuzzDecodeMessage(f *testing.F) {
	f.Add([]byte(`{"header":{"msg_id":"a","timestamp":1},"route":{"operation":"insert","resource":"default/pod/x"},"content":{"k":"v"}}`))
	f.Add([]byte(`{"header":{"msg_id":"a","parent_msg_id":"b","timestamp":1,"sync":true},"route":{},"content":"OK"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded message does not encode: %v", err)
		}
		if _, err := Decode(out); err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		_, _ = m.ContentData()
		_, _ = ParseResource(m.Resource())
		_ = ResourceType(m.Resource())
	})
}
