package boot

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/edgegate/edgegate/init/supervise"
)

const logDir = "/var/log"

// startServices starts the configured services as a graph and says, once,
// how long after init's exec all of them had started (the boot benchmark
// reads that line).
func (s *System) startServices(ctx context.Context) {
	specs := s.Config.Services
	if len(specs) == 0 {
		s.Console.Say("services: none configured")
		return
	}
	dir := logDir
	if !s.dataOK {
		dir = "" // no files on a tmpfs /var: ring and console only
	} else if err := os.MkdirAll(logDir, 0o755); err != nil {
		s.Console.Say("services: %v; logs kept in memory only", err)
		dir = ""
	}
	var mu sync.Mutex
	started := map[string]bool{}
	s.expectServices(specs)
	sup, err := supervise.New(specs, supervise.Options{
		LogDir: dir, Console: os.Stdout, Starter: s.reaper,
		OnEvent: func(e supervise.Event) {
			s.Console.Say("%s", e)
			s.timeService(ctx, e)
			if e.Kind != supervise.EventStarted {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !started[e.Service] {
				started[e.Service] = true
				if len(started) == len(specs) {
					s.Console.Say("services: all %d started %dms after init exec", len(specs), time.Since(s.execed).Milliseconds())
				}
			}
		},
	})
	if err != nil {
		// Validated at build time and at boot, so this is a bug; the
		// gateway stays up and reachable without services.
		s.Console.Say("services: %v", err)
		return
	}
	s.sup = sup
	sup.Start(context.WithoutCancel(ctx)) // Stop, not the boot context, ends them
}
