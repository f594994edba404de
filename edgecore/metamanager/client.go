package metamanager

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/edgegate/edgegate/edgecore/model"
)

// ErrNotFound means neither the store nor the cloud has the object.
var ErrNotFound = errors.New("object not found")

// Syncer sends a request and waits for its reply (the bus).
type Syncer interface {
	SendSync(module string, msg model.Message, timeout time.Duration) (model.Message, error)
}

// Client reads objects for edge modules the way KubeEdge's metaclient does
// for configmaps and secrets: the local store first, so a pod keeps its
// configuration while the cloud is away, and the cloud (through
// metamanager, which stores the answer) only on a miss.
type Client struct {
	store   *Store
	bus     Syncer
	source  string
	timeout time.Duration
}

// NewClient returns a client that asks as module source.
func NewClient(store *Store, b Syncer, source string, timeout time.Duration) *Client {
	return &Client{store: store, bus: b, source: source, timeout: timeout}
}

// Get returns the JSON of <ns>/<type>/<name>.
func (c *Client) Get(namespace, resourceType, name string) (string, error) {
	key := model.BuildResource(namespace, resourceType, name)
	row, ok, err := c.store.Get(key)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", key, err)
	}
	if ok {
		return row.Value, nil
	}
	q := model.NewMessage("").BuildRouter(c.source, model.MetaGroup, key, model.QueryOperation)
	resp, err := c.bus.SendSync(model.MetaManagerModuleName, *q, c.timeout)
	if err != nil {
		return "", fmt.Errorf("get %s: %w", key, err)
	}
	if resp.Operation() == model.ResponseErrorOperation {
		return "", fmt.Errorf("get %s: %s", key, resp.ContentText())
	}
	if obj, ok := objectOf(&resp); ok {
		return obj, nil
	}
	// A local answer is a list of stored values; empty means absent.
	data, _ := resp.ContentData()
	var values []string
	if json.Unmarshal(data, &values) == nil && len(values) > 0 {
		return values[0], nil
	}
	return "", fmt.Errorf("get %s: %w", key, ErrNotFound)
}
