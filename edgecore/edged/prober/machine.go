package prober

import v1 "k8s.io/api/core/v1"

// API defaults, applied here too because pods built without the API server's
// defaulting carry zeros.
const (
	defaultPeriodSeconds    = 10
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
)

// machine applies the kubelet's threshold rules to raw probe results. It holds
// no clock, so its transitions are tested without timing.
type machine struct {
	kind             Kind
	successThreshold int
	failureThreshold int

	// current is the thresholded result.
	current Result
	// last is the last raw result and run how many times in a row it came.
	last Result
	run  int
}

func newMachine(kind Kind, p *v1.Probe) machine {
	return machine{
		kind:             kind,
		successThreshold: orDefault(p.SuccessThreshold, defaultSuccessThreshold),
		failureThreshold: orDefault(p.FailureThreshold, defaultFailureThreshold),
		current:          initialResult(kind),
	}
}

// initialResult is what a container's probe reads before any verdict: not
// ready, alive, and not yet started.
func initialResult(kind Kind) Result {
	switch kind {
	case Readiness:
		return Failure
	case Liveness:
		return Success
	}
	return Unknown
}

// observe feeds one raw Success or Failure. changed reports that the
// thresholded result became r; done that the probe has nothing left to
// decide for this container instance: a liveness or startup Failure means a
// restart (and a new instance), a startup Success means the container has
// started, after which the kubelet stops running startup probes.
func (m *machine) observe(r Result) (changed, done bool) {
	if r == m.last {
		m.run++
	} else {
		m.last, m.run = r, 1
	}
	threshold := m.failureThreshold
	if r == Success {
		threshold = m.successThreshold
	}
	if m.run < threshold {
		return false, false
	}
	changed = m.current != r
	m.current = r
	switch m.kind {
	case Liveness:
		done = r == Failure
	case Startup:
		done = true
	}
	return changed, done
}

func orDefault(v int32, def int) int {
	if v > 0 {
		return int(v)
	}
	return def
}
