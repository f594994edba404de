package nodestatus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/edgegate/edgegate/edgecore/model"
)

// Syncer sends a request on edgecore's bus and waits for its answer.
type Syncer interface {
	SendSync(module string, msg model.Message, timeout time.Duration) (model.Message, error)
}

// Bus is what the reporter needs from edgecore's bus.
type Bus interface {
	Syncer
	Receive(ctx context.Context, module string) (model.Message, error)
}

// Request sends one request as KubeEdge's edged does through its kubeclient
// bridge (source "edged", group "meta", to metamanager) and decodes the
// object answered into out (nil to ignore it). Errors are as client.do's:
// the cloud's refusals are *apierrors.StatusError, edgecore's own are
// *LocalError. edged's pod status patches and deletions use it.
func Request(b Syncer, timeout time.Duration, resource, op string, content, out any) error {
	return client{bus: b, target: model.MetaManagerModuleName, timeout: timeout}.do(resource, op, content, out)
}

// LocalError is a request edgecore itself turned down or could not carry:
// no link to the cloud ("not connected"), no answer in time. The cloud never
// saw it, so it is retried soon and is not worth a warning.
type LocalError struct{ Reason string }

func (e *LocalError) Error() string { return e.Reason }

// IsLocal reports whether err is a LocalError.
func IsLocal(err error) bool {
	var le *LocalError
	return errors.As(err, &le)
}

// client sends the requests KubeEdge's edged sends through its kubeclient
// bridge (source "edged", group "meta") and decodes the answers.
type client struct {
	bus     Syncer
	target  string // metamanager
	timeout time.Duration
}

// do sends op on resource with content and decodes the object the cloud
// answers into out (nil to ignore it). A refusal by the cloud comes back as
// an *apierrors.StatusError, so apierrors.IsNotFound and friends work on
// it; a refusal by edgecore itself as a *LocalError.
func (c client) do(resource, op string, content any, out any) error {
	msg := model.NewMessage("").BuildRouter(model.EdgedModuleName, model.MetaGroup, resource, op).FillBody(content)
	resp, err := c.bus.SendSync(c.target, *msg, c.timeout)
	if err != nil {
		return &LocalError{Reason: fmt.Sprintf("%s %s: %v", op, resource, err)}
	}
	if resp.Operation() == model.ResponseErrorOperation {
		return &LocalError{Reason: fmt.Sprintf("%s %s: %s", op, resource, resp.ContentText())}
	}
	data, err := resp.ContentData()
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, resource, err)
	}
	if err := decodeReply(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", op, resource, err)
	}
	return nil
}

// decodeReply reads the shapes the cloud and metamanager answer with
// (cloudcore's edgecontroller, KUBEEDGE.md §3.9 and §5.2):
//
//	{"Object":<object|null>,"Err":<{"ErrStatus":Status}|{}|null>}  create, patch, lease
//	<object>                                                       query
//	{"ErrStatus":Status}                                           failed query
//	["<object JSON>", ...]                                         metamanager's store (offline query)
//	"OK"                                                           a bare acknowledgement
func decodeReply(data []byte, out any) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || string(data) == "null" || string(data) == `"OK"` || string(data) == model.AckContent:
		return nil
	case data[0] == '[':
		var values []string
		if err := json.Unmarshal(data, &values); err != nil {
			return fmt.Errorf("stored answer: %w", err)
		}
		if len(values) == 0 {
			return &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: 404,
				Message: "not in edgecore's store (the cloud is not reachable)",
			}}
		}
		return decodeObject([]byte(values[0]), out)
	case data[0] != '{':
		return fmt.Errorf("unexpected answer %.200s", data)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if status, ok := fields["ErrStatus"]; ok && len(fields) == 1 {
		return statusError(status)
	}
	obj, hasObj := fields["Object"]
	errField, hasErr := fields["Err"]
	if !hasObj && !hasErr {
		return decodeObject(data, out)
	}
	if hasErr && !isNull(errField) {
		var wrapped struct {
			ErrStatus json.RawMessage `json:"ErrStatus"`
		}
		if json.Unmarshal(errField, &wrapped) == nil && len(wrapped.ErrStatus) > 0 {
			return statusError(wrapped.ErrStatus)
		}
		// cloudcore serialises an error that is not a Kubernetes status as
		// {}: the cloud failed, but did not say why.
		return fmt.Errorf("the cloud refused without a reason: %s", errField)
	}
	if isNull(obj) {
		return nil
	}
	return decodeObject(obj, out)
}

func decodeObject(data []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("answer object: %w", err)
	}
	return nil
}

func isNull(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s == "" || s == "null"
}

// statusError turns a metav1.Status into the apimachinery error the
// kubelet would get from client-go.
func statusError(raw json.RawMessage) error {
	se := &apierrors.StatusError{}
	if err := json.Unmarshal(raw, &se.ErrStatus); err != nil {
		return fmt.Errorf("cloud error status: %w", err)
	}
	if se.ErrStatus.Reason == "" && se.ErrStatus.Message == "" {
		return fmt.Errorf("the cloud refused with an empty status: %s", raw)
	}
	return se
}
