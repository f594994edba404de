package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"k8s.io/klog/v2"

	"github.com/edgegate/edgegate/image/bundle"
	"github.com/edgegate/edgegate/init/slotstate"
	"github.com/edgegate/edgegate/init/slotwrite"
)

// maxBundle bounds a request body by what a bundle can be at most.
const maxBundle = int64(bundle.HeaderSize+bundle.MaxManifestSize) + bundle.MaxImageSize

// begin takes the update lock and checks the running slot is committed.
// The returned release must be called when the update ends.
func (s *Server) begin() (release func(), err error) {
	if !s.busy.TryLock() {
		return nil, &Error{Status: http.StatusConflict, Reason: ReasonBusy, Message: "another update is running"}
	}
	st, err := s.c.State.Load()
	if err != nil && !errors.Is(err, slotstate.ErrUnreadable) {
		s.busy.Unlock()
		return nil, fmt.Errorf("reading the slot state: %w", err)
	}
	if st.TrialSlot == s.c.Running {
		s.busy.Unlock()
		return nil, &Error{Status: http.StatusConflict, Reason: ReasonOnTrial, Message: fmt.Sprintf(
			"the running slot %s is on trial and not committed yet: an update now would overwrite slot %s, the fallback", s.c.Running, st.Active)}
	}
	s.setProgress(&Progress{Phase: PhaseReceiving})
	return func() {
		s.setProgress(nil)
		s.busy.Unlock()
	}, nil
}

// install verifies the bundle read from src and writes it into the slot
// that is not running, which it leaves on trial. It records the outcome.
func (s *Server) install(ctx context.Context, src io.Reader) (Result, error) {
	target := s.c.Running.Other()
	in := &countingReader{r: src}
	res, err := s.installFrom(ctx, in, target)
	res.Bytes = in.n
	out := Outcome{Time: time.Now().UTC(), Version: res.Version, Build: res.Build, Slot: string(target)}
	if err != nil {
		e := refusal(err)
		out.Error, out.Reason = e.Message, e.Reason
		klog.Warningf("update: refused after %d bytes (%s): %v", in.n, e.Reason, err)
	} else {
		klog.Infof("update: slot %s holds %s %s (build %d), on trial for the next boot", target, res.Board, res.Version, res.Build)
	}
	s.recordOutcome(out)
	return res, err
}

func (s *Server) installFrom(ctx context.Context, src io.Reader, target slotstate.Slot) (Result, error) {
	r, err := bundle.Open(src, bundle.Policy{Board: s.c.Info.Board, Build: s.c.Info.Build, Keys: s.c.Keys})
	if err != nil {
		return Result{}, err
	}
	defer r.Close()
	m := r.Manifest()
	res := Result{Slot: string(target), Version: m.Version, Build: m.Build, Board: m.Board, ImageSize: m.ImageSize}
	klog.Infof("update: writing %s %s (build %d, %d bytes, signed by %s) into slot %s", m.Board, m.Version, m.Build, m.ImageSize, m.KeyID, target)
	err = slotwrite.Write(ctx, slotwrite.Options{
		State: s.c.State, Running: s.c.Running, Target: target,
		RunningDevice: s.c.Devices[s.c.Running], TargetDevice: s.c.Devices[target],
		Progress: s.writeProgress,
	}, slotwrite.FromBundle(r))
	if err != nil {
		return res, err
	}
	s.setProgress(&Progress{Phase: PhaseTrial, Written: m.ImageSize, Total: m.ImageSize})
	return res, nil
}

// writeProgress follows slotwrite: writing, then verifying once the last
// byte is written.
func (s *Server) writeProgress(written, total int64) {
	phase := PhaseWriting
	if written >= total {
		phase = PhaseVerifying
	}
	s.setProgress(&Progress{Phase: phase, Written: written, Total: total})
}

func (s *Server) setProgress(p *Progress) {
	s.mu.Lock()
	s.progress = p
	s.mu.Unlock()
}

// recordOutcome keeps the outcome in last.json and status.json.
func (s *Server) recordOutcome(o Outcome) {
	if rec, err := s.c.State.Load(); err == nil {
		o.Seq = uint64(rec.Seq)
	}
	s.mu.Lock()
	s.last = &o
	s.mu.Unlock()
	if err := writeJSON(filepath.Join(s.c.StateDir, LastFile), o); err != nil {
		klog.Errorf("update: %v", err)
	}
	s.WriteStatus()
}

// scheduleReboot asks init for the reboot into the trial slot, after the
// reply had time to reach the client.
func (s *Server) scheduleReboot() {
	time.AfterFunc(s.c.RebootDelay, func() {
		klog.Infof("update: rebooting into the trial slot")
		if err := s.c.Reboot(); err != nil {
			klog.Errorf("update: asking init to reboot: %v (the trial happens at the next boot)", err)
		}
	})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}
