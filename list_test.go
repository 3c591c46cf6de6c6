package vigil

import (
	"reflect"
	"testing"
	"time"
)

func TestParseSortBy(t *testing.T) {
	for in, want := range map[string][]Sort{
		"name":              {{Column: "name"}},
		"name asc":          {{Column: "name"}},
		"name desc":         {{Column: "name", Desc: true}},
		"-name":             {{Column: "name", Desc: true}},
		"name:desc":         {{Column: "name", Desc: true}},
		"name, -created_at": {{Column: "name"}, {Column: "created_at", Desc: true}},
		"host_count DESC":   {{Column: "host_count", Desc: true}},
	} {
		got, err := ParseSortBy(TargetList, in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseSortBy(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"password_hash", "name sideways", "name; DROP TABLE targets"} {
		if _, err := ParseSortBy(TargetList, bad); ErrorCode(err) != EINVALID {
			t.Errorf("ParseSortBy(%q) error = %v, want EINVALID", bad, err)
		}
	}
}

func TestParseRelativeDateRange(t *testing.T) {
	now := time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in       string
		from, to time.Time
	}{
		{"10d", now.AddDate(0, 0, -10), now.Add(time.Millisecond)},
		{"3M", now.AddDate(0, -3, 0), now.Add(time.Millisecond)},
		{"2h", now.Add(-2 * time.Hour), now.Add(time.Millisecond)},
		{"1q", now.AddDate(0, -3, 0), now.Add(time.Millisecond)},
		{"1q2020", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2020, 4, 1, 0, 0, 0, 0, time.UTC)},
		{"4q2023", time.Date(2023, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		from, to, err := ParseRelativeDateRange(tt.in, now)
		if err != nil || !from.Equal(tt.from) || !to.Equal(tt.to) {
			t.Errorf("%s: got %v..%v, %v; want %v..%v", tt.in, from, to, err, tt.from, tt.to)
		}
	}
	for _, bad := range []string{"", "10", "d", "10w", "5q2020", "0d", "1d2020", "-1d"} {
		if _, _, err := ParseRelativeDateRange(bad, now); err == nil {
			t.Errorf("ParseRelativeDateRange(%q) accepted", bad)
		}
	}
}

func TestParseFilterDate(t *testing.T) {
	got, err := ParseFilterDate("2024-01-02 03:04:05")
	if err != nil || !got.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ParseFilterDate("yesterday"); err == nil {
		t.Error("accepted 'yesterday'")
	}
}
