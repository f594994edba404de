// Package link is the websocket connection from edgehub to cloudhub: TLS with
// the node's client certificate, KubeEdge's dial headers, one JSON text frame
// per message, a token-bucket write limit, and a reader that drops bad frames
// without dropping the connection.
package link

import (
	"errors"
	"fmt"

	"github.com/edgegate/edgegate/edgecore/model"
)

// ErrBadFrame wraps every reason DecodeFrame rejects a frame.
var ErrBadFrame = errors.New("bad frame")

// DecodeFrame parses one text frame from the cloud into a message. It accepts
// what cloudhub writes (JSON object, optional trailing newline) and rejects
// anything that could not be routed: non-objects, wrong field types, a
// missing msg_id or operation.
func DecodeFrame(data []byte) (*model.Message, error) {
	msg, err := model.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadFrame, err)
	}
	if msg.Header.ID == "" {
		return nil, fmt.Errorf("%w: header.msg_id is empty", ErrBadFrame)
	}
	if msg.Router.Operation == "" {
		return nil, fmt.Errorf("%w: route.operation is empty (msg %s)", ErrBadFrame, msg.Header.ID)
	}
	return msg, nil
}
