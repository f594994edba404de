package qemu

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmp is a minimal client of the QEMU Machine Protocol: JSON objects over
// a unix socket, a greeting, capability negotiation, then commands.
type qmp struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialQMP(path string, timeout time.Duration) (*qmp, error) {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.Dial("unix", path)
		if err == nil {
			q := &qmp{conn: conn, r: bufio.NewReader(conn)}
			if err := q.handshake(); err != nil {
				conn.Close()
				return nil, err
			}
			return q, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("QMP %s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (q *qmp) handshake() error {
	if _, err := q.read(); err != nil { // greeting
		return fmt.Errorf("QMP greeting: %w", err)
	}
	return q.execute("qmp_capabilities")
}

func (q *qmp) read() (map[string]json.RawMessage, error) {
	q.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("QMP: %w: %q", err, line)
	}
	return m, nil
}

// execute runs a command and waits for its return, skipping events.
func (q *qmp) execute(cmd string) error {
	b, _ := json.Marshal(map[string]string{"execute": cmd})
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("QMP %s: %w", cmd, err)
	}
	for {
		m, err := q.read()
		if err != nil {
			return fmt.Errorf("QMP %s: %w", cmd, err)
		}
		if e, ok := m["error"]; ok {
			return fmt.Errorf("QMP %s: %s", cmd, e)
		}
		if _, ok := m["return"]; ok {
			return nil
		}
	}
}

func (q *qmp) close() error { return q.conn.Close() }
