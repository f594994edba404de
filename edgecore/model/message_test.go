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
				Content: map[string]any{"a": 1},
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
				Content: "OK",
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
		resp.Group() != ResourceGroup || resp.Resource() != "default/pod/a" || resp.ID() == req.ID() || resp.Content != "OK" {
		t.Fatalf("response %+v to %+v", resp, req)
	}
	e := NewErrorMessage(req, "boom")
	if e.ParentID() != req.ID() || e.Operation() != ResponseErrorOperation || e.Source() != "" || e.Group() != "" || e.Resource() != "default/pod/a" {
		t.Fatalf("error message %+v", e)
	}
	if resp.Header.Timestamp < 1_600_000_000_000 {
		t.Fatalf("timestamp %d is not in milliseconds", resp.Header.Timestamp)
	}
}

func TestContentData(t *testing.T) {
	tests := []struct {
		content any
		want    string
	}{
		{nil, ""},
		{"raw", "raw"},
		{[]byte("b"), "b"},
		{json.RawMessage(`{"x":1}`), `{"x":1}`},
		{map[string]any{"k": "v"}, `{"k":"v"}`},
		{[]string{"a", "b"}, `["a","b"]`},
	}
	for _, tt := range tests {
		m := Message{Content: tt.content}
		got, err := m.ContentData()
		if err != nil || string(got) != tt.want {
			t.Errorf("ContentData(%#v) = %q, %v; want %q", tt.content, got, err, tt.want)
		}
	}
	bad := Message{Content: make(chan int)}
	if _, err := bad.ContentData(); err == nil {
		t.Error("ContentData(chan): want error")
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
