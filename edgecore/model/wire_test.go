package model

import (
	"encoding/json"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// anyMessage is how a message was encoded while its content was a Go value
// (and is in KubeEdge's beehive): the reference for byte compatibility.
type anyMessage struct {
	Header  Header `json:"header"`
	Router  Route  `json:"route,omitempty"`
	Content any    `json:"content"`
}

// TestEncodingUnchanged checks that a message built with a Go value or a
// raw body encodes to exactly the bytes it did with an interface{} content.
func TestEncodingUnchanged(t *testing.T) {
	pod := &v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "u-1", ResourceVersion: "7", Labels: map[string]string{"a&b": "<x>"}},
		Spec: v1.PodSpec{NodeName: "edge-1", Containers: []v1.Container{{Name: "c", Image: "nginx",
			Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")}}}}},
	}
	tests := []struct {
		name    string
		content any
	}{
		{"no content", nil},
		{"ack", AckContent},
		{"string with HTML and line separators", "<a href=\"x\">&\u2028</a>"},
		{"status patch as a JSON string", `{"status":{"phase":"Running"}}`},
		{"map, keys sorted", map[string]any{"b": 1.5, "a": []any{1e21, true, nil}, "c": map[string]any{}}},
		{"list of stored values", []string{`{"metadata":{"name":"a"}}`, "b"}},
		{"kubernetes object", pod},
		{"raw body with spaces and HTML", json.RawMessage(` { "a" : "<b>" , "c": [ 1 ,2 ] } `)},
		{"raw null", json.RawMessage(`null`)},
		{"number", 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMessage("p").BuildRouter(EdgedModuleName, MetaGroup, "default/pod/web", UpdateOperation).SetResourceVersion("7")
			m.Header.Sync = true
			m.FillBody(tt.content)
			got, err := Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(anyMessage{Header: m.Header, Router: m.Router, Content: tt.content})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("encoding changed\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestDecodedContentIsForwardedAsReceived: a message that crossed the
// wire goes on (to the cloud, to the store) with the body the peer sent,
// not one rebuilt from Go maps.
func TestDecodedContentIsForwardedAsReceived(t *testing.T) {
	in := `{"header":{"msg_id":"m","timestamp":1},"route":{"operation":"insert"},"content":{"z":1,"a":0.10,"big":123456789012345678901234567890}}`
	m, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"header":{"msg_id":"m","timestamp":1},"route":{"operation":"insert"},"content":{"z":1,"a":0.10,"big":123456789012345678901234567890}}`
	if string(out) != want {
		t.Fatalf("forwarded\n got %s\nwant %s", out, want)
	}
}
