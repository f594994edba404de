package config

import (
	"encoding/json"
	"math"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Kubelet is what edgegate reads from modules.edged.tailoredKubeletConfig,
// with KubeEdge's defaults for what the file leaves out.
type Kubelet struct {
	MaxPods                          int64
	NodeStatusUpdateFrequency        time.Duration
	NodeStatusReportFrequency        time.Duration
	NodeLeaseDuration                time.Duration // nodeLeaseDurationSeconds
	EvictionPressureTransitionPeriod time.Duration
	// EvictionHard maps a signal (memory.available, nodefs.available,
	// nodefs.inodesFree, pid.available, …) to its threshold.
	EvictionHard             map[string]Threshold
	ContainerRuntimeEndpoint string
	// ImageGCHighThresholdPercent and ImageGCLowThresholdPercent: unused
	// images are removed once the disk passes the high mark, until it is
	// below the low one.
	ImageGCHighThresholdPercent int
	ImageGCLowThresholdPercent  int
	// ContainerLogMaxSize (bytes) and ContainerLogMaxFiles cap each
	// container's log.
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	// EventRecordQPS and EventBurst bound the events sent to the cloud
	// (modules.edged.reportEvent); QPS 0 is no limit.
	EventRecordQPS float64
	EventBurst     int
}

// KubeEdge's kubelet defaults (default_kubelet_configuration.go).
func defaultKubelet() Kubelet {
	return Kubelet{
		MaxPods:                          110,
		NodeStatusUpdateFrequency:        10 * time.Second,
		NodeStatusReportFrequency:        5 * time.Minute,
		NodeLeaseDuration:                40 * time.Second,
		EvictionPressureTransitionPeriod: 5 * time.Minute,
		EvictionHard: map[string]Threshold{
			"memory.available":   {Quantity: 100 << 20},
			"nodefs.available":   {Percent: 10},
			"nodefs.inodesFree":  {Percent: 5},
			"imagefs.available":  {Percent: 15},
			"imagefs.inodesFree": {Percent: 5},
		},
		ContainerRuntimeEndpoint:    "unix:///run/containerd/containerd.sock",
		ImageGCHighThresholdPercent: 85,
		ImageGCLowThresholdPercent:  80,
		ContainerLogMaxSize:         10 << 20,
		ContainerLogMaxFiles:        5,
		EventRecordQPS:              50,
		EventBurst:                  100,
	}
}

// Kubelet returns the settings edgegate uses. Values that do not parse
// keep their default; Validate reports them.
func (e *Edged) Kubelet() Kubelet {
	k, _ := e.kubelet()
	return k
}

// kubelet parses the settings and returns every bad value as a
// *FieldError.
func (e *Edged) kubelet() (Kubelet, []error) {
	k := defaultKubelet()
	if e == nil {
		return k, nil
	}
	var errs []error
	const prefix = "modules.edged.tailoredKubeletConfig."
	kc := e.TailoredKubeletConfig
	bad := func(field string, v any, reason string) {
		errs = append(errs, &FieldError{Field: prefix + field, Value: v, Reason: reason})
	}
	duration := func(field string, into *time.Duration) {
		v, ok := kc[field]
		if !ok {
			return
		}
		s, isString := v.(string)
		d, err := time.ParseDuration(s)
		if !isString || err != nil || d <= 0 {
			bad(field, v, "must be a positive duration such as 10s or 5m0s")
			return
		}
		*into = d
	}
	duration("nodeStatusUpdateFrequency", &k.NodeStatusUpdateFrequency)
	duration("nodeStatusReportFrequency", &k.NodeStatusReportFrequency)
	duration("evictionPressureTransitionPeriod", &k.EvictionPressureTransitionPeriod)
	if v, ok := kc["maxPods"]; ok {
		if n, ok := wholeNumber(v); ok && n > 0 {
			k.MaxPods = n
		} else {
			bad("maxPods", v, "must be a positive whole number")
		}
	}
	if v, ok := kc["nodeLeaseDurationSeconds"]; ok {
		if n, ok := wholeNumber(v); ok && n > 0 {
			k.NodeLeaseDuration = time.Duration(n) * time.Second
		} else {
			bad("nodeLeaseDurationSeconds", v, "must be a positive whole number of seconds")
		}
	}
	if v, ok := kc["containerRuntimeEndpoint"]; ok {
		if s, ok := v.(string); ok && strings.HasPrefix(s, "unix://") {
			k.ContainerRuntimeEndpoint = s
		} else {
			bad("containerRuntimeEndpoint", v, "must be a unix:// socket address")
		}
	}
	percent := func(field string, into *int) {
		if v, ok := kc[field]; ok {
			if n, ok := wholeNumber(v); ok && n >= 0 && n <= 100 {
				*into = int(n)
			} else {
				bad(field, v, "must be a whole number from 0 to 100")
			}
		}
	}
	percent("imageGCHighThresholdPercent", &k.ImageGCHighThresholdPercent)
	percent("imageGCLowThresholdPercent", &k.ImageGCLowThresholdPercent)
	if k.ImageGCLowThresholdPercent > k.ImageGCHighThresholdPercent {
		bad("imageGCLowThresholdPercent", k.ImageGCLowThresholdPercent, "must not be above imageGCHighThresholdPercent")
	}
	if v, ok := kc["containerLogMaxSize"]; ok {
		s, isString := v.(string)
		q, err := resource.ParseQuantity(s)
		if !isString || err != nil || q.Value() <= 0 {
			bad("containerLogMaxSize", v, `must be a positive quantity such as "10Mi"`)
		} else {
			k.ContainerLogMaxSize = q.Value()
		}
	}
	if v, ok := kc["containerLogMaxFiles"]; ok {
		if n, ok := wholeNumber(v); ok && n >= 2 {
			k.ContainerLogMaxFiles = int(n)
		} else {
			bad("containerLogMaxFiles", v, "must be a whole number of at least 2")
		}
	}
	if v, ok := kc["eventRecordQPS"]; ok {
		if n, ok := wholeNumber(v); ok && n >= 0 {
			k.EventRecordQPS = float64(n)
		} else {
			bad("eventRecordQPS", v, "must be a whole number of at least 0 (0: no limit)")
		}
	}
	if v, ok := kc["eventBurst"]; ok {
		if n, ok := wholeNumber(v); ok && n >= 0 {
			k.EventBurst = int(n)
		} else {
			bad("eventBurst", v, "must be a whole number of at least 0")
		}
	}
	if v, ok := kc["evictionHard"]; ok {
		hard, herrs := evictionHard(v)
		for _, he := range herrs {
			bad("evictionHard"+he.Field, he.Value, he.Reason)
		}
		if len(herrs) == 0 {
			k.EvictionHard = hard
		}
	}
	return k, errs
}

// evictionHard reads a signal → threshold map; a file that sets it
// replaces this map's defaults, as in the kubelet. (edgecore's node status
// still judges pressure for a signal the map leaves out by its default
// threshold: a gateway is better told it is running out.)
func evictionHard(v any) (map[string]Threshold, []*FieldError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, []*FieldError{{Value: v, Reason: "must be a map of signal to threshold"}}
	}
	out := map[string]Threshold{}
	var errs []*FieldError
	signals := make([]string, 0, len(m))
	for s := range m {
		signals = append(signals, s)
	}
	sort.Strings(signals)
	for _, signal := range signals {
		s, isString := m[signal].(string)
		t, err := ParseThreshold(s)
		if !isString || err != nil {
			errs = append(errs, &FieldError{Field: "." + signal, Value: m[signal], Reason: `must be a quantity such as "100Mi" or a percentage such as "10%"`})
			continue
		}
		out[signal] = t
	}
	return out, errs
}

// wholeNumber reads a JSON number that is an integer.
func wholeNumber(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		if n != math.Trunc(n) || math.IsInf(n, 0) {
			return 0, false
		}
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}
