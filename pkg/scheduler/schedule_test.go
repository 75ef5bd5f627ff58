package scheduler

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// firesFrom lists the first n fires after from.
func firesFrom(s *Schedule, from time.Time, n int) []time.Time {
	var out []time.Time
	for t := from; len(out) < n; {
		t = s.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t.UTC())
	}
	return out
}

func TestNextAcrossDaylightSaving(t *testing.T) {
	tests := []struct {
		name     string
		schedule string
		zone     string
		from     time.Time
		want     []time.Time // in UTC
	}{
		// New York springs forward on 2026-03-08: 02:00 EST becomes 03:00 EDT.
		{name: "a reading skipped by spring-forward fires at the end of the gap, once",
			schedule: "30 2 * * *", zone: "America/New_York", from: utc(2026, 3, 7, 0, 0, 0),
			want: []time.Time{utc(2026, 3, 7, 7, 30, 0), utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 9, 6, 30, 0)}}, // 02:30 EST, 03:00 EDT, 02:30 EDT
		{name: "an hourly schedule fires once at the end of the gap, not twice",
			schedule: "0 * * * *", zone: "America/New_York", from: utc(2026, 3, 8, 5, 30, 0),
			want: []time.Time{utc(2026, 3, 8, 6, 0, 0), utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 8, 8, 0, 0)}}, // 01:00 EST, 03:00 EDT, 04:00 EDT
		{name: "readings every half hour inside the gap collapse into the fire at its end",
			schedule: "*/30 * * * *", zone: "America/New_York", from: utc(2026, 3, 8, 6, 0, 0),
			want: []time.Time{utc(2026, 3, 8, 6, 30, 0), utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 8, 7, 30, 0)}}, // 01:30 EST, 03:00 EDT, 03:30 EDT
		{name: "a reading after the gap is untouched by spring-forward",
			schedule: "0 3 * * *", zone: "America/New_York", from: utc(2026, 3, 7, 12, 0, 0),
			want: []time.Time{utc(2026, 3, 8, 7, 0, 0), utc(2026, 3, 9, 7, 0, 0)}},
		// New York falls back on 2026-11-01: 02:00 EDT becomes 01:00 EST.
		{name: "a reading repeated by fall-back fires the first time only",
			schedule: "30 1 * * *", zone: "America/New_York", from: utc(2026, 10, 31, 12, 0, 0),
			want: []time.Time{utc(2026, 11, 1, 5, 30, 0), utc(2026, 11, 2, 6, 30, 0)}}, // 01:30 EDT, then 01:30 EST the next day
		{name: "a reading after the repeated hour fires once on the fall-back night",
			schedule: "30 2 * * *", zone: "America/New_York", from: utc(2026, 10, 31, 12, 0, 0),
			want: []time.Time{utc(2026, 11, 1, 7, 30, 0), utc(2026, 11, 2, 7, 30, 0)}}, // 02:30 EST
		{name: "an hourly schedule skips the repeated hour on the fall-back night",
			schedule: "0 * * * *", zone: "America/New_York", from: utc(2026, 11, 1, 4, 30, 0),
			want: []time.Time{utc(2026, 11, 1, 5, 0, 0), utc(2026, 11, 1, 7, 0, 0), utc(2026, 11, 1, 8, 0, 0)}}, // 01:00 EDT, 02:00 EST, 03:00 EST
		{name: "from inside the repeated hour the repeated reading is not fired again",
			schedule: "30 1 * * *", zone: "America/New_York", from: utc(2026, 11, 1, 6, 10, 0), // 01:10 EST, after 01:30 EDT fired
			want: []time.Time{utc(2026, 11, 2, 6, 30, 0)}},
		{name: "a midnight that never occurs fires when the day begins",
			schedule: "@daily", zone: "America/Havana", from: utc(2026, 3, 6, 12, 0, 0),
			want: []time.Time{utc(2026, 3, 7, 5, 0, 0), utc(2026, 3, 8, 5, 0, 0), utc(2026, 3, 9, 4, 0, 0)}}, // 00:00 CST, 01:00 CDT, 00:00 CDT
		{name: "a midnight that occurs twice fires once",
			schedule: "@daily", zone: "America/Havana", from: utc(2026, 10, 31, 12, 0, 0),
			want: []time.Time{utc(2026, 11, 1, 4, 0, 0), utc(2026, 11, 2, 5, 0, 0)}},
		{name: "a half-hour shift moves a skipped reading to the end of its gap",
			schedule: "15 2 * * *", zone: "Australia/Lord_Howe", from: utc(2026, 10, 2, 12, 0, 0),
			want: []time.Time{utc(2026, 10, 2, 15, 45, 0), utc(2026, 10, 3, 15, 30, 0), utc(2026, 10, 4, 15, 15, 0)}}, // 02:15 +1030, 02:30 +11, 02:15 +11
		{name: "London's 01:30 is 02:00 BST on the spring-forward day",
			schedule: "30 1 * * *", zone: "Europe/London", from: utc(2026, 3, 28, 12, 0, 0),
			want: []time.Time{utc(2026, 3, 29, 1, 0, 0), utc(2026, 3, 30, 0, 30, 0)}},
		{name: "a zone without daylight saving is a constant shift",
			schedule: "0 9 * * MON-FRI", zone: "Asia/Kolkata", from: utc(2026, 3, 6, 12, 0, 0), // a Friday
			want: []time.Time{utc(2026, 3, 9, 3, 30, 0), utc(2026, 3, 10, 3, 30, 0)}},
		{name: "no zone is UTC",
			schedule: "30 2 * * *", zone: "", from: utc(2026, 3, 7, 12, 0, 0),
			want: []time.Time{utc(2026, 3, 8, 2, 30, 0), utc(2026, 3, 9, 2, 30, 0)}},
		{name: "@every ignores daylight saving",
			schedule: "@every 1h", zone: "", from: utc(2026, 3, 8, 5, 30, 0),
			want: []time.Time{utc(2026, 3, 8, 6, 30, 0), utc(2026, 3, 8, 7, 30, 0), utc(2026, 3, 8, 8, 30, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(tt.schedule, tt.zone)
			require.NoError(t, err)
			require.Equal(t, tt.want, firesFrom(s, tt.from, len(tt.want)))
		})
	}
}

func TestNextIsInTheScheduleZone(t *testing.T) {
	s, err := Parse("30 2 * * *", "America/New_York")
	require.NoError(t, err)
	next := s.Next(utc(2026, 3, 7, 12, 0, 0))
	require.Equal(t, "2026-03-08 03:00:00 EDT", next.Format("2006-01-02 15:04:05 MST"))
	require.Equal(t, "America/New_York", s.Location().String())
	require.Zero(t, s.Every())
}

func TestNextRoundsToTheSecond(t *testing.T) {
	s, err := Parse("@every 30s", "")
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, s.Every())
	require.Equal(t, utc(2026, 1, 1, 0, 0, 30), s.Next(utc(2026, 1, 1, 0, 0, 0).Add(999*time.Millisecond)).UTC())
	c, err := Parse("* * * * *", "")
	require.NoError(t, err)
	require.Equal(t, utc(2026, 1, 1, 0, 1, 0), c.Next(utc(2026, 1, 1, 0, 0, 59).Add(999*time.Millisecond)).UTC())
	require.Equal(t, utc(2026, 1, 1, 0, 2, 0), c.Next(utc(2026, 1, 1, 0, 1, 0)).UTC(), "strictly after")
}

func TestAfterKeepsTheEveryGrid(t *testing.T) {
	s, err := Parse("@every 30s", "")
	require.NoError(t, err)
	anchor := utc(2026, 1, 1, 0, 0, 10)
	tests := []struct {
		name   string
		anchor time.Time
		t      time.Time
		want   time.Time
	}{
		{name: "an anchor ahead is the next fire", anchor: anchor, t: utc(2026, 1, 1, 0, 0, 0), want: anchor},
		{name: "the anchor itself is not after itself", anchor: anchor, t: anchor, want: utc(2026, 1, 1, 0, 0, 40)},
		{name: "fires stay on the grid long after the anchor", anchor: anchor, t: utc(2026, 1, 1, 1, 0, 0), want: utc(2026, 1, 1, 1, 0, 10)},
		{name: "no anchor starts the grid at t", t: utc(2026, 1, 1, 0, 0, 3), want: utc(2026, 1, 1, 0, 0, 33)},
		{name: "an anchor more than a period ahead starts the grid at t", anchor: utc(2026, 1, 1, 1, 0, 0), t: utc(2026, 1, 1, 0, 0, 3), want: utc(2026, 1, 1, 0, 0, 33)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, s.after(tt.anchor, tt.t).UTC())
		})
	}
}

func TestParseRefusesWhatValidationRefuses(t *testing.T) {
	_, err := Parse("0 0 3 * * *", "")
	require.ErrorContains(t, err, `schedule "0 0 3 * * *": must have five fields`)
	_, err = Parse("@daily", "Mars/Olympus")
	require.ErrorContains(t, err, `time zone "Mars/Olympus": must be an IANA time zone name`)
	s, err := Parse("@every 1m", "Mars/Olympus")
	require.NoError(t, err, "@every has no zone to load")
	require.Equal(t, time.UTC, s.Location())
}
