package boot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/edgegate/edgegate/init/config"
	"github.com/edgegate/edgegate/init/supervise"
)

// edgecoreService is the service whose link to the cloud the timeline
// follows: cloudStep runs from its start to its first connection.
const (
	edgecoreService = "edgecore"
	cloudStep       = "cloud"
)

// cloudPoll is how often init asks edgecore whether it is connected,
// from its start (before its socket is there) until it is.
const cloudPoll = 100 * time.Millisecond

// serviceStep names a service's step: from its first start to its first
// passing health check (or its start, without a check).
func serviceStep(name string) string { return "service:" + name }

// expectServices makes every configured service, and edgecore's cloud
// link when edgecore answers on an inspect socket, steps the timeline
// waits for.
func (s *System) expectServices(specs []config.Service) {
	for _, sp := range specs {
		s.timeline.Expect(serviceStep(sp.Name))
		if _, ok := inspectSocket(sp); ok {
			s.timeline.Expect(cloudStep)
		}
	}
}

// timeService records what a supervisor event means for the timeline.
func (s *System) timeService(ctx context.Context, e supervise.Event) {
	sp, ok := s.serviceSpec(e.Service)
	if !ok {
		return
	}
	step := serviceStep(e.Service)
	switch e.Kind {
	case supervise.EventStarted:
		s.timeline.Begin(step)
		if sp.Health.Kind == config.HealthNone {
			s.timeline.End(step)
		}
		if socket, ok := inspectSocket(sp); ok {
			s.timeline.Begin(cloudStep)
			s.timeline.cloudWatch.Do(func() { go s.waitCloud(ctx, socket) })
		}
	case supervise.EventHealthy:
		s.timeline.End(step)
	}
}

func (s *System) serviceSpec(name string) (config.Service, bool) {
	for _, sp := range s.Config.Services {
		if sp.Name == name {
			return sp, true
		}
	}
	return config.Service{}, false
}

// inspectSocket is edgecore's inspect socket, where its health check
// goes and GET /cloud says whether it is connected.
func inspectSocket(sp config.Service) (string, bool) {
	if sp.Name != edgecoreService || sp.Health.Kind != config.HealthHTTP || sp.Health.Address == "" {
		return "", false
	}
	return sp.Health.Address, true
}

// waitCloud ends cloudStep once edgecore says it is connected, or
// drops it when edgecore has no cloud to connect to (404). Until its
// inspect socket answers, the question fails and is asked again.
func (s *System) waitCloud(ctx context.Context, socket string) {
	ctx, cancel := context.WithTimeout(ctx, timelineDeadline)
	defer cancel()
	client := unixClient(socket)
	for {
		connected, err := askConnected(ctx, client)
		switch {
		case errors.Is(err, errNoCloud):
			s.timeline.Drop(cloudStep)
			return
		case connected:
			s.timeline.End(cloudStep)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(cloudPoll):
		}
	}
}

// errNoCloud: edgecore runs without a cloud link (edgehub disabled).
var errNoCloud = errors.New("edgecore has no cloud link")

// askConnected asks edgecore's GET /cloud: 200 connected, 503 not yet,
// 404 no cloud link configured.
func askConnected(ctx context.Context, client *http.Client) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://edgecore/cloud", nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, errNoCloud
	}
	return false, fmt.Errorf("GET /cloud: %s", resp.Status)
}

func unixClient(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true, Proxy: nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}
