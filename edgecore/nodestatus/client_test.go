package nodestatus

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// The answers cloudcore v1.23's edgecontroller and edgecore's metamanager
// give, and what the kubelet's client would make of them.
func TestDecodeReply(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantName string
		check    func(error) bool
		wantErr  string
	}{
		{name: "created", body: `{"Object":{"metadata":{"name":"n1","uid":"u1"}},"Err":null}`, wantName: "n1"},
		{name: "bare object (query)", body: `{"kind":"Node","apiVersion":"v1","metadata":{"name":"n2"}}`, wantName: "n2"},
		{name: "local store list", body: `["{\"metadata\":{\"name\":\"n3\"}}"]`, wantName: "n3"},
		{name: "empty local store", body: `[]`, check: apierrors.IsNotFound},
		{name: "ack", body: `OK`},
		{name: "already exists",
			body:  `{"Object":{"metadata":{"creationTimestamp":null},"spec":{},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":0}},"nodeInfo":{"machineID":"","systemUUID":"","bootID":"","kernelVersion":"","osImage":"","containerRuntimeVersion":"","kubeletVersion":"","kubeProxyVersion":"","operatingSystem":"","architecture":""}}},"Err":{"ErrStatus":{"metadata":{},"status":"Failure","message":"nodes \"n\" already exists","reason":"AlreadyExists","details":{"name":"n","kind":"nodes"},"code":409}}}`,
			check: apierrors.IsAlreadyExists},
		{name: "lease without resourceVersion",
			body:  `{"Object":{"metadata":{}},"Err":{"ErrStatus":{"status":"Failure","message":"Lease.coordination.k8s.io \"n\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update","reason":"Invalid","code":422}}}`,
			check: apierrors.IsInvalid},
		{name: "query not found", body: `{"ErrStatus":{"metadata":{},"status":"Failure","message":"lease.coordination.k8s.io \"n\" not found","reason":"NotFound","code":404}}`, check: apierrors.IsNotFound},
		{name: "lease not found in ObjectResp", body: `{"Object":null,"Err":{"ErrStatus":{"status":"Failure","reason":"NotFound","code":404,"message":"not found"}}}`, check: apierrors.IsNotFound},
		{name: "error without status", body: `{"Object":null,"Err":{}}`, wantErr: "the cloud refused without a reason: {}"},
		{name: "garbage", body: `<html>`, wantErr: "unexpected answer <html>"},
		{name: "text error", body: `"message: 1 process failure, unmarshal"`, wantErr: "unexpected answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n v1.Node
			err := decodeReply([]byte(tt.body), &n)
			switch {
			case tt.check != nil:
				if !tt.check(err) {
					t.Fatalf("err = %v", err)
				}
			case tt.wantErr != "":
				if err == nil || len(err.Error()) < len(tt.wantErr) || err.Error()[:len(tt.wantErr)] != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			default:
				if err != nil || n.Name != tt.wantName {
					t.Fatalf("node %q, err %v; want %q", n.Name, err, tt.wantName)
				}
			}
		})
	}
}
