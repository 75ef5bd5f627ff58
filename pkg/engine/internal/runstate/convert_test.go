package runstate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/firedrill/firedrill/pkg/apis/firedrill/v1alpha1"
)

func TestObjectivesNamesABadPercentage(t *testing.T) {
	_, err := Objectives(v1alpha1.Objectives{Availability: "abc", Recovered: v1alpha1.RecoveredCriteria{SuccessRate: "101"}})
	require.ErrorContains(t, err, `objectives.availability "abc"`)
	require.ErrorContains(t, err, `objectives.recovered.successRate "101"`)
	require.ErrorContains(t, CheckAbort(v1alpha1.Abort{AvailabilityBelow: "x"}), `abort.availabilityBelow "x"`)
}
