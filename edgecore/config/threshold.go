package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Threshold is one eviction threshold of evictionHard: an absolute
// quantity ("100Mi") or a fraction of capacity ("10%").
type Threshold struct {
	Quantity int64   // bytes or count; used when Percent is 0
	Percent  float64 // 0 < Percent <= 100
}

// ParseThreshold reads "100Mi" or "10%".
func ParseThreshold(s string) (Threshold, error) {
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v <= 0 || v > 100 {
			return Threshold{}, fmt.Errorf("threshold %q: want a percentage in (0, 100]", s)
		}
		return Threshold{Percent: v}, nil
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return Threshold{}, fmt.Errorf("threshold %q: %w", s, err)
	}
	if q.Sign() < 0 {
		return Threshold{}, errors.New("threshold " + strconv.Quote(s) + ": must not be negative")
	}
	return Threshold{Quantity: q.Value()}, nil
}

// Of returns the threshold's value for capacity.
func (t Threshold) Of(capacity int64) int64 {
	if t.Percent > 0 {
		return int64(float64(capacity) * t.Percent / 100)
	}
	return t.Quantity
}

// String is the threshold as the configuration writes it.
func (t Threshold) String() string {
	if t.Percent > 0 {
		return strconv.FormatFloat(t.Percent, 'g', -1, 64) + "%"
	}
	return resource.NewQuantity(t.Quantity, resource.BinarySI).String()
}
