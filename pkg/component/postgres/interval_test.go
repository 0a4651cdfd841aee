package postgres

import (
	"math"
	"testing"
)

func TestAppendInterval(t *testing.T) {
	tests := []struct {
		months, days int32
		micros       int64
		want         string
	}{
		{0, 0, 0, "00:00:00"},
		{1, 2, 3 * 3_600_000_000, "1 month 2 days 03:00:00"},
		{-14, 3, -(4*3600+5*60+6)*1_000_000 - 500_000, "-1 year -2 months 3 days -04:05:06.5"},
		{12, 0, 0, "1 year"},
		{24, 1, 0, "2 years 1 day"},
		{0, -1, 1, "-1 day 00:00:00.000001"},
		{0, 0, -1, "-00:00:00.000001"},
		{0, 0, 100 * 3_600_000_000, "100:00:00"},
		{0, 0, 45_296_789_012, "12:34:56.789012"},
		{math.MaxInt32, math.MinInt32, math.MinInt64, "178956970 years 7 months -2147483648 days -2562047788:00:54.775808"},
	}
	for _, tt := range tests {
		if got := string(appendInterval(nil, tt.months, tt.days, tt.micros)); got != tt.want {
			t.Errorf("(%d, %d, %d) = %q, want %q", tt.months, tt.days, tt.micros, got, tt.want)
		}
	}
}
