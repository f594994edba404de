package model

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMessageJSONMatchesKubeEdge(t *testing.T) {
	tests := []struct {
		name string
		msg  Message
		want string
	}{
		{
			name: "full header and route",
			msg: Message{
				Header:  Header{ID: "id-1", ParentID: "p-1", Timestamp: 1700000000123, ResourceVersion: "42", Sync: true, MessageType: "channel"},
				Router:  Route{Source: "edgecontroller", Destination: "d", Group: "resource", Operation: "insert", Resource: "default/pod/nginx"},
				Content: json.RawMessage(`{"a":1}`),
			},
			want: `{"header":{"msg_id":"id-1","parent_msg_id":"p-1","timestamp":1700000000123,"resourceversion":"42","sync":true,"type":"channel"},"route":{"source":"edgecontroller","destination":"d","group":"resource","operation":"insert","resource":"default/pod/nginx"},"content":{"a":1}}`,
		},
		{
			name: "empty optional fields are omitted, content null kept",
			msg:  Message{Header: Header{ID: "id-2", Timestamp: 5}},
			want: `{"header":{"msg_id":"id-2","timestamp":5},"route":{},"content":null}`,
		},
		{
			name: "ack",
			msg: Message{
				Header:  Header{ID: "id-3", ParentID: "cloud-1", Timestamp: 7},
				Router:  Route{Source: "edgecontroller", Group: "resource", Operation: "response", Resource: "default/pod/nginx"},
				Content: json.RawMessage(`"OK"`),
			},
			want: `{"header":{"msg_id":"id-3","parent_msg_id":"cloud-1","timestamp":7},"route":{"source":"edgecontroller","group":"resource","operation":"response","resource":"default/pod/nginx"},"content":"OK"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(&tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("JSON\n got %s\nwant %s", got, tt.want)
			}
			back, err := Decode(got)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Encode(back)
			if string(again) != tt.want {
				t.Fatalf("round trip\n got %s\nwant %s", again, tt.want)
			}
		})
	}
}

func TestDecodeRejectsBadInput(t *testing.T) {
	for _, in := range []string{"", "{", "[]", `{"header":5}`, `{"route":{"source":1}}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q): want error", in)
		} else if !strings.Contains(err.Error(), "decode message") {
			t.Errorf("Decode(%q): error %q lacks context", in, err)
		}
	}
}

func TestReplies(t *testing.T) {
	req := NewMessage("").BuildRouter("edgecontroller", ResourceGroup, "default/pod/a", InsertOperation)
	resp := NewRespByMessage(req, AckContent)
	if resp.ParentID() != req.ID() || resp.Operation() != ResponseOperation || resp.Source() != "edgecontroller" ||
		resp.Group() != ResourceGroup || resp.Resource() != "default/pod/a" || resp.ID() == req.ID() || string(resp.Content) != `"OK"` {
		t.Fatalf("response %+v to %+v", resp, req)
	}
	e := NewErrorMessage(req, "boom")
	if e.ParentID() != req.ID() || e.Operation() != ResponseErrorOperation || e.Source() != "" || e.Group() != "" || e.Resource() != "default/pod/a" || e.ContentText() != "boom" {
		t.Fatalf("error message %+v", e)
	}
	if resp.Header.Timestamp < 1_600_000_000_000 {
		t.Fatalf("timestamp %d is not in milliseconds", resp.Header.Timestamp)
	}
}

func TestContentData(t *testing.T) {
	tests := []struct {
		name    string
		content any // given to FillBody
		want    string
	}{
		{"nil", nil, ""},
		{"string: its value, as KubeEdge's GetContentData", "raw", "raw"},
		{"string holding JSON", `{"status":{}}`, `{"status":{}}`},
		{"string with escapes", "a\"b<", "a\"b<"},
		{"raw JSON as it is", json.RawMessage(`{"x":1}`), `{"x":1}`},
		{"raw null", json.RawMessage(`null`), ""},
		{"raw string", json.RawMessage(`"OK"`), "OK"},
		{"map", map[string]any{"k": "v"}, `{"k":"v"}`},
		{"list", []string{"a", "b"}, `["a","b"]`},
		{"number", 3, "3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage("").FillBody(tt.content)
			got, err := m.ContentData()
			if err != nil || string(got) != tt.want {
				t.Errorf("ContentData(%#v) = %q, %v; want %q", tt.content, got, err, tt.want)
			}
			// A decoded copy answers the same: what a module reads does not
			// depend on whether the message crossed the wire.
			wire, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(wire)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := back.ContentData(); err != nil || string(again) != string(got) {
				t.Errorf("after the wire ContentData = %q, %v; want %q", again, err, got)
			}
		})
	}
}

func TestContentDataOfDecodedMessage(t *testing.T) {
	tests := []struct {
		content string // as received on the wire
		want    string
	}{
		{`"OK"`, "OK"},
		{`"{\"a\":1}"`, `{"a":1}`},
		{`{"b": 2,  "a": [1.0, 2e3]}`, `{"b": 2,  "a": [1.0, 2e3]}`}, // bytes as received: not re-sorted, not float64
		{`null`, ""},
		{`[]`, `[]`},
		{`12345678901234567890`, `12345678901234567890`},
	}
	for _, tt := range tests {
		m, err := Decode([]byte(`{"header":{"msg_id":"m"},"route":{"operation":"insert"},"content":` + tt.content + `}`))
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.ContentData()
		if err != nil || string(got) != tt.want {
			t.Errorf("content %s: ContentData = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	m, err := Decode([]byte(`{"header":{"msg_id":"m"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := m.ContentData(); err != nil || got != nil {
		t.Errorf("no content: ContentData = %q, %v; want nil", got, err)
	}
}

func TestDecodeContent(t *testing.T) {
	type meta struct {
		Name string `json:"name"`
	}
	type obj struct {
		Metadata meta `json:"metadata"`
	}
	for _, content := range []string{`{"metadata":{"name":"web"}}`, `"{\"metadata\":{\"name\":\"web\"}}"`} {
		m, err := Decode([]byte(`{"header":{"msg_id":"m"},"content":` + content + `}`))
		if err != nil {
			t.Fatal(err)
		}
		var o obj
		if err := m.DecodeContent(&o); err != nil || o.Metadata.Name != "web" {
			t.Errorf("content %s: DecodeContent = %+v, %v", content, o, err)
		}
	}
	var o obj
	bad := NewMessage("").FillBody(json.RawMessage(`[1]`))
	if err := bad.DecodeContent(&o); err == nil || !strings.Contains(err.Error(), bad.ID()) {
		t.Errorf("DecodeContent of a list into a struct: error %v, want one naming the message", err)
	}
	none := NewMessage("")
	o = obj{Metadata: meta{Name: "kept"}}
	if err := none.DecodeContent(&o); err != nil || o.Metadata.Name != "kept" {
		t.Errorf("DecodeContent of no content = %+v, %v; want v untouched", o, err)
	}
}

func TestContentString(t *testing.T) {
	tests := []struct {
		content any
		want    string
		ok      bool
	}{
		{CloudConnected, CloudConnected, true},
		{json.RawMessage(` "x"`), "x", true},
		{map[string]any{}, "", false},
		{nil, "", false},
		{json.RawMessage(`"unterminated`), "", false},
	}
	for _, tt := range tests {
		got, ok := NewMessage("").FillBody(tt.content).ContentString()
		if got != tt.want || ok != tt.ok {
			t.Errorf("ContentString(%#v) = %q, %v; want %q, %v", tt.content, got, ok, tt.want, tt.ok)
		}
	}
}

func TestContentText(t *testing.T) {
	if got := NewMessage("").FillBody("not connected").ContentText(); got != "not connected" {
		t.Errorf("ContentText of a string = %q", got)
	}
	if got := NewMessage("").FillBody(map[string]int{"a": 1}).ContentText(); got != `{"a":1}` {
		t.Errorf("ContentText of an object = %q", got)
	}
	long := NewMessage("").FillBody(strings.Repeat("x", 5000)).ContentText()
	if len(long) > maxContentText+64 || !strings.HasSuffix(long, "(5000 bytes)") {
		t.Errorf("ContentText of 5000 bytes is %d bytes long, ends %q; want it cut with the size named", len(long), long[len(long)-20:])
	}
}

func TestUnencodableContent(t *testing.T) {
	bad := NewMessage("").FillBody(make(chan int))
	if _, err := bad.ContentData(); err == nil {
		t.Error("ContentData(chan): want error")
	}
	if err := bad.DecodeContent(new(any)); err == nil {
		t.Error("DecodeContent(chan): want error")
	}
	if _, err := Encode(bad); err == nil || !strings.Contains(err.Error(), bad.ID()) {
		t.Errorf("Encode(chan) = %v, want an error naming the message", err)
	}
	if _, err := json.Marshal(bad); err == nil {
		t.Error("json.Marshal of a message whose content did not encode: want error")
	}
	if got := bad.ContentText(); !strings.Contains(got, "encode content") {
		t.Errorf("ContentText = %q, want the encoding error", got)
	}
}

func TestSize(t *testing.T) {
	m := NewMessage("").BuildRouter("edgecontroller", ResourceGroup, "default/pod/a", InsertOperation).
		FillBody(json.RawMessage(strings.Repeat(" ", 1000)))
	want := messageOverhead + 1000 + len(m.Header.ID) + len("edgecontroller") + len(ResourceGroup) + len("default/pod/a") + len(InsertOperation)
	if got := m.Size(); got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}
}

func TestResourceStrings(t *testing.T) {
	tests := []struct {
		in      string
		want    Resource
		typ     string
		wantErr bool
	}{
		{in: "default/pod/nginx", want: Resource{"default", "pod", "nginx"}, typ: "pod"},
		{in: "default/pod", want: Resource{"default", "pod", ""}, typ: "pod"},
		{in: "kube-node-lease/lease/edge1", want: Resource{"kube-node-lease", "lease", "edge1"}, typ: "lease"},
		{in: "membership", wantErr: true, typ: ""},
		{in: "device/default/dev1/twin/edge_updated", wantErr: true, typ: ""},
		{in: "default//x", wantErr: true, typ: ""},
		{in: "/pod/x", wantErr: true, typ: "pod"},
	}
	for _, tt := range tests {
		got, err := ParseResource(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseResource(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
		if err == nil && got != tt.want {
			t.Errorf("ParseResource(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if err == nil && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
		if typ := ResourceType(tt.in); typ != tt.typ {
			t.Errorf("ResourceType(%q) = %q, want %q", tt.in, typ, tt.typ)
		}
	}
	if got := BuildResource("default", "node", "edge1"); got != "default/node/edge1" {
		t.Errorf("BuildResource = %q", got)
	}
}

func TestIsCloudSource(t *testing.T) {
	for src, want := range map[string]bool{"edgecontroller": true, "devicecontroller": true, "edged": false, "metamanager": false, "": false} {
		if IsCloudSource(src) != want {
			t.Errorf("IsCloudSource(%q) != %v", src, want)
		}
	}
}
