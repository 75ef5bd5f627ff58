package v1alpha1

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/stretchr/testify/require"
)

func TestParseSchedule(t *testing.T) {
	from := time.Date(2026, time.March, 4, 10, 17, 0, 0, time.UTC) // a Wednesday
	tests := []struct {
		name     string
		schedule string
		next     time.Time     // the first fire after from, for cron schedules
		every    time.Duration // the period, for @every
		wantErr  string
	}{
		{name: "five fields fire at the named minute", schedule: "30 2 * * *", next: time.Date(2026, time.March, 5, 2, 30, 0, 0, time.UTC)},
		{name: "day names are accepted", schedule: "0 9 * * MON-FRI", next: time.Date(2026, time.March, 5, 9, 0, 0, 0, time.UTC)},
		{name: "the quarterly schedule fires on the first of the next quarter", schedule: "0 3 1 1,4,7,10 *", next: time.Date(2026, time.April, 1, 3, 0, 0, 0, time.UTC)},
		{name: "surrounding spaces are ignored", schedule: "  0 * * * *  ", next: time.Date(2026, time.March, 4, 11, 0, 0, 0, time.UTC)},
		{name: "@daily is midnight", schedule: "@daily", next: time.Date(2026, time.March, 5, 0, 0, 0, 0, time.UTC)},
		{name: "@hourly is on the hour", schedule: "@hourly", next: time.Date(2026, time.March, 4, 11, 0, 0, 0, time.UTC)},
		{name: "February 29 fires in a leap year", schedule: "0 0 29 2 *", next: time.Date(2028, time.February, 29, 0, 0, 0, 0, time.UTC)},
		{name: "@every takes whole seconds", schedule: "@every 30s", every: 30 * time.Second},
		{name: "@every takes any whole duration", schedule: "@every 1h30m", every: 90 * time.Minute},
		{name: "@every one second is the shortest", schedule: "@every 1s", every: time.Second},
		{name: "an empty schedule is refused", schedule: " ", wantErr: "must not be empty"},
		{name: "four fields are refused", schedule: "0 3 * *", wantErr: "must have five fields (minute hour day-of-month month day-of-week), found 4"},
		{name: "a seconds field is refused with the short form named", schedule: "*/30 * * * * *", wantErr: `a seconds field is not supported; use "@every 30s"`},
		{name: "CRON_TZ is refused for timeZone", schedule: "CRON_TZ=Europe/Paris 0 3 * * *", wantErr: "set spec.timeZone"},
		{name: "TZ is refused for timeZone", schedule: "TZ=UTC 0 3 * * *", wantErr: "set spec.timeZone"},
		{name: "a prefix without a space does not panic", schedule: "TZ=UTC", wantErr: "set spec.timeZone"},
		{name: "a minute out of range is refused", schedule: "60 * * * *", wantErr: "above maximum"},
		{name: "an unknown descriptor is refused", schedule: "@fortnightly", wantErr: "unrecognized descriptor"},
		{name: "a date that never exists is refused", schedule: "0 0 31 4 *", wantErr: "never fires"},
		{name: "@every below a second is refused, not rounded", schedule: "@every 500ms", wantErr: "at least 1s"},
		{name: "@every with a fraction of a second is refused, not truncated", schedule: "@every 2500ms", wantErr: "whole number of seconds, not 2.5s"},
		{name: "@every without a unit is refused", schedule: "@every 30", wantErr: "missing unit"},
		{name: "@every zero is refused", schedule: "@every 0s", wantErr: "at least 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSchedule(tt.schedule)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			if tt.every > 0 {
				require.Equal(t, cron.ConstantDelaySchedule{Delay: tt.every}, got)
				return
			}
			spec, ok := got.(*cron.SpecSchedule)
			require.True(t, ok, "a cron schedule is a *cron.SpecSchedule, got %T", got)
			require.Equal(t, time.UTC, spec.Location, "the machine's zone never leaks into a schedule")
			require.Equal(t, tt.next, spec.Next(from))
		})
	}
}

func TestLoadTimeZone(t *testing.T) {
	tests := []struct {
		name    string
		zone    string
		want    string
		wantErr string
	}{
		{name: "unset is UTC", zone: "", want: "UTC"},
		{name: "an IANA name loads", zone: "America/New_York", want: "America/New_York"},
		{name: "a zone with a half-hour shift loads", zone: "Australia/Lord_Howe", want: "Australia/Lord_Howe"},
		{name: "the machine's zone is refused", zone: "Local", wantErr: "not the machine's local zone"},
		{name: "the machine's zone in any case is refused", zone: "local", wantErr: "not the machine's local zone"},
		{name: "an unknown zone is refused", zone: "America/Gotham", wantErr: "unknown time zone America/Gotham"},
		{name: "a path is refused", zone: "../etc/passwd", wantErr: "must be an IANA time zone name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, err := LoadTimeZone(tt.zone)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, loc.String())
		})
	}
}

// FuzzParseSchedule holds that no text panics the parser, and that what it
// accepts fires.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"30 2 * * *", "@every 30s", "@daily", "0 3 1 1,4,7,10 *", "*/5 9-17 * * MON-FRI", "TZ=", "CRON_TZ=x", "@every", "0 0 29 2 *", "0 0 31 2 *", "59 23 L * *", "? ? ? ? ?", "1-60/0 * * * *"} {
		f.Add(s)
	}
	from := time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		sched, err := ParseSchedule(s)
		if err != nil {
			return
		}
		switch sched := sched.(type) {
		case cron.ConstantDelaySchedule:
			if sched.Delay < time.Second || sched.Delay%time.Second != 0 {
				t.Fatalf("%q: @every %s is not whole seconds of at least 1s", s, sched.Delay)
			}
		case *cron.SpecSchedule:
			// A schedule fires within eight years of any date: February 29
			// can be eight years away around 2100.
			if next := sched.Next(from); next.IsZero() && sched.Next(from.AddDate(4, 0, 0)).IsZero() {
				t.Fatalf("%q was accepted but never fires", s)
			}
		default:
			t.Fatalf("%q: unexpected schedule type %T", s, sched)
		}
	})
}
