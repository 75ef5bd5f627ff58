package v1alpha1

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// percentRx is the CRD schema's pattern of a Percent, so that the CLI
// and the API server accept the same texts.
var percentRx = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]+)?$`)

// ParsePercent parses a Percent. It returns an error naming the rule when
// the value is not a number between 0 and 100.
func ParsePercent(p Percent) (float64, error) {
	if !percentRx.MatchString(string(p)) {
		return 0, fmt.Errorf("must be a percentage between 0 and 100")
	}
	f, err := strconv.ParseFloat(string(p), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("must be a percentage between 0 and 100")
	}
	if f < 0 || f > 100 {
		return 0, fmt.Errorf("must be a percentage between 0 and 100")
	}
	return f, nil
}

// SelectCountOf returns how many of n targets a selection picks.
func SelectCountOf(s Selection, n int) int {
	switch s.Mode {
	case SelectOne:
		return min(1, n)
	case SelectAll:
		return n
	case SelectCount:
		if s.Value == nil {
			return 0
		}
		return min(int(*s.Value), n)
	case SelectPercent:
		if s.Value == nil {
			return 0
		}
		return min(n, int(math.Ceil(float64(n)*float64(*s.Value)/100)))
	}
	return 0
}

// SelectorString renders a selector the way kubectl prints one.
func SelectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return fmt.Sprintf("%v", s)
	}
	return sel.String()
}
