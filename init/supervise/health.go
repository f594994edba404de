package supervise

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/edgegate/edgegate/init/config"
)

// checker answers whether a service is up; ctx carries the check timeout.
type checker func(ctx context.Context) error

// newChecker builds the check for h; kind none is nil (up once started).
func newChecker(h config.HealthCheck, starter Starter) checker {
	switch h.Kind {
	case config.HealthUnix:
		return dialCheck("unix", h.Address)
	case config.HealthTCP:
		return dialCheck("tcp", h.Address)
	case config.HealthExec:
		return execCheck(h.Command, starter)
	case config.HealthHTTP:
		return httpCheck(h.URL, h.Address)
	}
	return nil
}

func dialCheck(network, addr string) checker {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

func execCheck(argv []string, starter Starter) checker {
	return func(ctx context.Context) error {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = "/"
		pid, ch, err := starter.Start(cmd)
		if err != nil {
			return err
		}
		select {
		case e := <-ch:
			if !e.Success() {
				return fmt.Errorf("%s: %s", argv[0], e)
			}
			return nil
		case <-ctx.Done():
			unix.Kill(pid, unix.SIGKILL) // not yet reaped, so the pid is still its
			<-ch
			return fmt.Errorf("%s: %w", argv[0], ctx.Err())
		}
	}
}

// httpCheck GETs url; with a socket, through that unix socket whatever
// the URL's host, so a service can answer on a socket only root reaches.
func httpCheck(url, socket string) checker {
	tr := &http.Transport{DisableKeepAlives: true, Proxy: nil}
	if socket != "" {
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}
	}
	client := &http.Client{Transport: tr}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			// The body says why (edgecore: which modules are not running).
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.Join(strings.Fields(string(body)), " "))
		}
		return nil
	}
}
