package supervise

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"

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
		return httpCheck(h.URL)
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

func httpCheck(url string) checker {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
