package vigil

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Paging defaults and limits shared by every list endpoint.
const (
	DefaultPerPage = 25
	MaxPerPage     = 500
)

// FilterKind says how a q[column] value is matched.
type FilterKind int

// Filter kinds.
const (
	FilterText     FilterKind = iota // case-insensitive; '*' is a wildcard, otherwise exact
	FilterExact                      // exact value (ids, enums); '*' not allowed
	FilterBool                       // true/false
	FilterSeverity                   // a severity class (high, medium, low, log), or several comma-separated
	FilterMin                        // a number: the column is at least this
	FilterMax                        // a number: the column is at most this
	FilterAfter                      // a time (date_range_start format): the column is at or after it
	FilterBefore                     // a time: the column is before it (a date alone: before its end)
	// Kinds the server adds to a list itself (fixed views such as running
	// scans); never parsed from a query string.
	FilterIn      // one of Values
	FilterNotNull // the column has a value
)

// ListSpec is the allow-list of a resource's list endpoint: which q[...]
// columns it filters on, which columns it sorts by, and its defaults.
type ListSpec struct {
	Filters     map[string]FilterKind
	Sorts       []string
	DefaultSort []Sort
	DateColumn  string // the column date_range_* and relative_date_range apply to
}

// CanSort reports whether col is an allowed sort column.
func (s ListSpec) CanSort(col string) bool {
	for _, c := range s.Sorts {
		if c == col {
			return true
		}
	}
	return false
}

// Filter is one q[column]=value condition.
type Filter struct {
	Column string
	Kind   FilterKind
	Value  string
	Values []string  // FilterIn
	Number float64   // FilterMin, FilterMax (parsed by CheckFilter)
	Time   time.Time // FilterAfter, FilterBefore (parsed by CheckFilter)
}

// CheckFilter parses the value of the typed kinds into f; the message says
// what was expected.
func CheckFilter(f *Filter) error {
	switch f.Kind {
	case FilterSeverity:
		for _, c := range strings.Split(f.Value, ",") {
			if _, _, ok := SeverityRange(strings.TrimSpace(strings.ToLower(c))); !ok {
				return fmt.Errorf("must be high, medium, low, log or false_positive (comma-separate several), got %q", c)
			}
		}
	case FilterMin, FilterMax:
		n, err := strconv.ParseFloat(strings.TrimSpace(f.Value), 64)
		if err != nil || n != n {
			return fmt.Errorf("must be a number, got %q", f.Value)
		}
		f.Number = n
	case FilterAfter, FilterBefore:
		t, err := ParseFilterDate(f.Value)
		if err != nil {
			return err
		}
		if f.Kind == FilterBefore && len(strings.TrimSpace(f.Value)) == len("2006-01-02") {
			t = t.AddDate(0, 0, 1)
		}
		f.Time = t
	}
	return nil
}

// Sort is one sort_by term.
type Sort struct {
	Column string
	Desc   bool
}

// ListOptions are the parsed and validated list parameters of a request.
type ListOptions struct {
	Page    int
	PerPage int
	Filters []Filter
	Sort    []Sort
	From    *time.Time // inclusive
	To      *time.Time // exclusive when derived from a relative range, inclusive for date_range_end
	// RestrictTo is a restricted user's id: target and scan lists then hold
	// only resources in no group and those of the user's groups.
	RestrictTo string
	// Group keeps only the targets, scans and findings of one group (a
	// group's scans include those of its targets).
	Group string
}

// Offset is the number of rows before the current page.
func (o ListOptions) Offset() int { return (o.Page - 1) * o.PerPage }

// ListMeta is the pagination block of a list response.
type ListMeta struct {
	CurrentPage int `json:"current_page" example:"1"`
	PerPage     int `json:"per_page" example:"25"`
	TotalPages  int `json:"total_pages" example:"4"`
	TotalCount  int `json:"total_count" example:"87"`
}

// NewListMeta computes the meta block for total rows under opts.
func NewListMeta(opts ListOptions, total int) ListMeta {
	pages := 0
	if opts.PerPage > 0 {
		pages = (total + opts.PerPage - 1) / opts.PerPage
	}
	return ListMeta{CurrentPage: opts.Page, PerPage: opts.PerPage, TotalPages: pages, TotalCount: total}
}

// ParseSortBy parses sort_by in any of its accepted forms: "name", "name asc",
// "name desc", "-name", "name:desc", and comma-separated lists of those.
func ParseSortBy(spec ListSpec, s string) ([]Sort, error) {
	var out []Sort
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		desc := false
		if strings.HasPrefix(term, "-") {
			desc, term = true, term[1:]
		} else if strings.HasPrefix(term, "+") {
			term = term[1:]
		}
		col, dir, _ := strings.Cut(strings.ReplaceAll(term, ":", " "), " ")
		switch strings.ToLower(strings.TrimSpace(dir)) {
		case "", "asc":
		case "desc":
			desc = true
		default:
			return nil, FieldError("sort_by", "unknown sort direction %q (use asc or desc)", strings.TrimSpace(dir))
		}
		if !spec.CanSort(col) {
			return nil, FieldError("sort_by", "cannot sort by %q; allowed: %s", col, strings.Join(spec.Sorts, ", "))
		}
		out = append(out, Sort{Column: col, Desc: desc})
	}
	return out, nil
}

// ParseFilterDate parses date_range_start / date_range_end: "YYYY-MM-DD hh:mm:ss"
// (CONFIRMED), and leniently "YYYY-MM-DD" and RFC 3339. Times without a zone are UTC.
func ParseFilterDate(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339Nano} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(s), time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("expected YYYY-MM-DD hh:mm:ss, got %q", s)
}

var relativeRangeRE = regexp.MustCompile(`^([0-9]{1,6})([smhdMyq])([0-9]{4})?$`)

// ParseRelativeDateRange parses relative_date_range: "<n><unit>" meaning the
// last n units up to now (units s, m, h, d, M, y, q), or "<n>q<yyyy>" meaning
// quarter n (1-4) of year yyyy. It returns the half-open window [from, to).
func ParseRelativeDateRange(s string, now time.Time) (from, to time.Time, err error) {
	m := relativeRangeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return from, to, fmt.Errorf("expected <n><unit> with unit s, m, h, d, M, y or q (e.g. 10d, 3M, 1q2020), got %q", s)
	}
	n, _ := strconv.Atoi(m[1])
	now = now.UTC()
	if m[3] != "" {
		if m[2] != "q" {
			return from, to, fmt.Errorf("only quarters can be anchored to a year (e.g. 1q2020), got %q", s)
		}
		if n < 1 || n > 4 {
			return from, to, fmt.Errorf("quarter must be 1-4, got %q", s)
		}
		year, _ := strconv.Atoi(m[3])
		from = time.Date(year, time.Month(3*(n-1)+1), 1, 0, 0, 0, 0, time.UTC)
		return from, from.AddDate(0, 3, 0), nil
	}
	if n == 0 {
		return from, to, fmt.Errorf("the amount must be at least 1, got %q", s)
	}
	switch m[2] {
	case "s":
		from = now.Add(-time.Duration(n) * time.Second)
	case "m":
		from = now.Add(-time.Duration(n) * time.Minute)
	case "h":
		from = now.Add(-time.Duration(n) * time.Hour)
	case "d":
		from = now.AddDate(0, 0, -n)
	case "M":
		from = now.AddDate(0, -n, 0)
	case "y":
		from = now.AddDate(-n, 0, 0)
	case "q":
		from = now.AddDate(0, -3*n, 0)
	}
	return from, now.Add(time.Millisecond), nil
}
