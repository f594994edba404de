package link

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"
	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/edgecore/config"
	"github.com/edgegate/edgegate/edgecore/model"
)

// Config describes one connection, with EdgeCore's modules.edgeHub names.
type Config struct {
	Server           string // websocket.server, host:port
	ProjectID        string
	NodeName         string
	TLS              *tls.Config
	HandshakeTimeout time.Duration // websocket.handshakeTimeout (30 s)
	WriteTimeout     time.Duration // websocket.writeDeadline (15 s)
	QPS              float64       // messageQPS (30)
	Burst            int           // messageBurst (60)
	// ReadTimeout (websocket.readDeadline, 15 s) is how long the link may
	// deliver nothing at all before it is declared dead. Pings every
	// ReadTimeout/2 make a healthy cloud answer well within it.
	ReadTimeout time.Duration
	// MaxMessage (websocket.maxMessageSize) is the largest frame handed
	// upward; larger ones are read, discarded and counted. The connection
	// is cut only past 4×MaxMessage.
	MaxMessage int
}

// DefaultMaxMessage is the default of modules.edgeHub.websocket.maxMessageSize.
const DefaultMaxMessage = config.DefaultMaxMessageSize

// DefaultReadTimeout is KubeEdge's websocket.readDeadline default.
const DefaultReadTimeout = 15 * time.Second

func (c *Config) defaults() {
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 15 * time.Second
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.QPS <= 0 {
		c.QPS = 30
	}
	if c.Burst <= 0 {
		c.Burst = 60
	}
	if c.MaxMessage <= 0 {
		c.MaxMessage = DefaultMaxMessage
	}
}

// URL is the address KubeEdge dials: wss://<server>/<projectID>/<node>/events.
func (c *Config) URL() string {
	return "wss://" + c.Server + "/" + c.ProjectID + "/" + c.NodeName + "/events"
}

// Stats counts frames; safe for concurrent use.
type Stats struct {
	FramesIn, FramesOut atomic.Uint64
	DroppedMalformed    atomic.Uint64
	DroppedOversize     atomic.Uint64
	PingsOut, PongsIn   atomic.Uint64
}

// Conn is one live websocket session.
type Conn struct {
	ws      *websocket.Conn
	cfg     Config
	limiter *rate.Limiter
	stats   *Stats
	wmu     sync.Mutex

	pinged   atomic.Uint64 // sequence number of the last ping written
	answered atomic.Uint64 // highest ping sequence number answered
	answers  chan struct{} // cap 1: signalled when answered grows
}

// Dial connects and authenticates with the client certificate in cfg.TLS.
func Dial(ctx context.Context, cfg Config, stats *Stats) (*Conn, error) {
	cfg.defaults()
	d := websocket.Dialer{TLSClientConfig: cfg.TLS, HandshakeTimeout: cfg.HandshakeTimeout}
	hdr := http.Header{}
	// Set the map directly: these names must go out exactly as KubeEdge spells them.
	hdr["node_id"] = []string{cfg.NodeName}
	hdr["project_id"] = []string{cfg.ProjectID}
	hdr["ConnectionUse"] = []string{"msg"}
	ws, resp, err := d.DialContext(ctx, cfg.URL(), hdr)
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %s)", cfg.URL(), err, resp.Status)
		}
		return nil, fmt.Errorf("dial %s: %w", cfg.URL(), err)
	}
	ws.SetReadLimit(int64(cfg.MaxMessage) * 4)
	c := &Conn{ws: ws, cfg: cfg, limiter: rate.NewLimiter(rate.Limit(cfg.QPS), cfg.Burst), stats: stats}
	c.watchLiveness()
	return c, nil
}

// Write sends one message as a JSON text frame, waiting for the rate
// limiter, and returns the frame's size. A nil error means the frame went
// into the connection, not that the cloud got it: only a pong to a later
// Ping proves that.
func (c *Conn) Write(ctx context.Context, msg *model.Message) (int, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return 0, fmt.Errorf("write %s: %w", msg.Header.ID, err)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(msg); err != nil { // newline-terminated, as gorilla WriteJSON
		return 0, fmt.Errorf("write %s: encode: %w", msg.Header.ID, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, buf.Bytes()); err != nil {
		return buf.Len(), fmt.Errorf("write %s: %w", msg.Header.ID, err)
	}
	c.stats.FramesOut.Add(1)
	return buf.Len(), nil
}

// Read returns the next well-formed message. Malformed and oversized frames
// are logged, counted and skipped; only connection errors are returned, an
// ErrSilent one when the cloud sent nothing for ReadTimeout.
func (c *Conn) Read() (*model.Message, error) {
	for {
		c.extendReadDeadline()
		kind, r, err := c.ws.NextReader()
		if err != nil {
			return nil, c.readError(err)
		}
		data, err := io.ReadAll(io.LimitReader(progressReader{r: r, c: c}, int64(c.cfg.MaxMessage)+1))
		if err != nil {
			return nil, c.readError(err)
		}
		c.stats.FramesIn.Add(1)
		if len(data) > c.cfg.MaxMessage {
			n, err := io.Copy(io.Discard, progressReader{r: r, c: c})
			if err != nil {
				return nil, fmt.Errorf("discarding oversized frame: %w", c.readError(err))
			}
			total := c.stats.DroppedOversize.Add(1)
			klog.Warningf("edgehub: dropped a %d-byte frame from the cloud (limit %d); %d oversized frames dropped so far",
				int64(len(data))+n, c.cfg.MaxMessage, total)
			continue
		}
		if kind != websocket.TextMessage {
			total := c.stats.DroppedMalformed.Add(1)
			klog.Warningf("edgehub: dropped a binary frame from the cloud (KubeEdge sends JSON text); %d malformed frames dropped so far", total)
			continue
		}
		msg, err := DecodeFrame(data)
		if err != nil {
			total := c.stats.DroppedMalformed.Add(1)
			klog.Warningf("edgehub: dropped frame from the cloud: %v; %d malformed frames dropped so far", err, total)
			continue
		}
		return msg, nil
	}
}

// Close closes the connection; a blocked Read or Write returns. The close
// frame is skipped while a write is stuck (a dead link with full buffers):
// waiting for it would delay the reconnect by up to the write deadline.
func (c *Conn) Close() error {
	if c.wmu.TryLock() {
		c.ws.SetWriteDeadline(time.Now().Add(time.Second))
		c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		c.wmu.Unlock()
	}
	return c.ws.Close()
}
