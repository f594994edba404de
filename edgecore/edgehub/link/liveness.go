package link

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// Liveness. cloudhub never pings and never answers edgecore's keepalive
// messages, but its websocket library (gorilla, default ping handler)
// answers every websocket ping with a pong carrying the same bytes, once
// its read loop reaches the ping. That gives the edge two facts:
//
//   - the link is alive while something arrives: any frame, a pong
//     included, pushes the read deadline on, and pings every
//     ReadTimeout/2 make a healthy cloud send something well within it;
//   - the stream is ordered, so the pong to ping n proves the cloud read
//     every frame written before ping n. Until then a written frame may
//     sit in a half-open TCP connection that will never deliver it.

// ErrSilent is the read error of a link that delivered nothing for
// ReadTimeout: a half-open connection, or a cloud that stopped reading.
var ErrSilent = errors.New("nothing received from the cloud within the read deadline")

// watchLiveness installs the control frame handlers; they run in the
// goroutine that calls Read.
func (c *Conn) watchLiveness() {
	c.answers = make(chan struct{}, 1)
	c.extendReadDeadline()
	c.ws.SetPongHandler(func(data string) error {
		c.stats.PongsIn.Add(1)
		c.extendReadDeadline()
		seq, err := strconv.ParseUint(data, 10, 64)
		// A pong that answers no ping of ours (RFC 6455 allows unsolicited
		// ones) proves liveness but no delivery.
		if err != nil || seq > c.pinged.Load() || seq <= c.answered.Load() {
			return nil
		}
		c.answered.Store(seq)
		select {
		case c.answers <- struct{}{}:
		default: // a signal is pending; Answered has the newest value
		}
		return nil
	})
	c.ws.SetPingHandler(func(data string) error {
		c.extendReadDeadline()
		// Best effort, as gorilla's default: a failed pong shows up as a
		// failed write or read soon enough.
		_ = c.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.cfg.WriteTimeout))
		return nil
	})
}

// Ping writes a ping carrying seq, which must grow from one call to the
// next. Answered reaches seq once the cloud has read every frame written
// before this one.
func (c *Conn) Ping(seq uint64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pinged.Store(seq) // before writing: the pong may come back at once
	if err := c.ws.WriteControl(websocket.PingMessage, strconv.AppendUint(nil, seq, 10), time.Now().Add(c.cfg.WriteTimeout)); err != nil {
		return fmt.Errorf("ping %d: %w", seq, err)
	}
	c.stats.PingsOut.Add(1)
	return nil
}

// Answered is the highest ping sequence number the cloud answered.
func (c *Conn) Answered() uint64 { return c.answered.Load() }

// Answers is signalled after a pong raised Answered.
func (c *Conn) Answers() <-chan struct{} { return c.answers }

// PingInterval is how often to ping: twice per read deadline, so a pong
// may take half the deadline and still keep the link up.
func (c *Conn) PingInterval() time.Duration { return c.cfg.ReadTimeout / 2 }

func (c *Conn) extendReadDeadline() {
	c.ws.SetReadDeadline(time.Now().Add(c.cfg.ReadTimeout))
}

// readError names a read deadline that passed as ErrSilent.
func (c *Conn) readError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("read: %w (%s): %w", ErrSilent, c.cfg.ReadTimeout, err)
	}
	return fmt.Errorf("read: %w", err)
}

// progressReader pushes the read deadline on while a frame's bytes keep
// coming, so a large frame on a slow link is not taken for a dead one.
type progressReader struct {
	r io.Reader
	c *Conn
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.c.extendReadDeadline()
	}
	return n, err
}
