package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
)

func TestListOptions(t *testing.T) {
	now := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	p := &ListParams{Page: 2, PerPage: 10, SortBy: "-name", DateRangeStart: "2024-01-01 00:00:00", DateRangeEnd: "2024-01-31 23:59:59",
		rawQuery: "q%5Bname%5D=web%2A&q%5Balive_test%5D=icmp&page=2"}
	opts, err := p.Options(vigil.TargetList, now)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Offset() != 10 || len(opts.Filters) != 2 || !reflect.DeepEqual(opts.Filters[1], vigil.Filter{Column: "name", Kind: vigil.FilterText, Value: "web*"}) ||
		!opts.Sort[0].Desc || !opts.To.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("options: %+v", opts)
	}
	p = &ListParams{RelativeDateRange: "1q2020", DateRangeStart: "2020-01-01", rawQuery: "q%5Bsecret%5D=1"}
	_, err = p.Options(vigil.TargetList, now)
	e, ok := err.(*vigil.Error)
	if !ok || e.Fields["q[secret]"] == nil || e.Fields["relative_date_range"] == nil {
		t.Errorf("errors: %v", err)
	}
}

func TestBearerToken(t *testing.T) {
	for h, want := range map[string]string{"Bearer abc": "abc", "bearer  abc ": "abc", "Basic vgs_x": "vgs_x", "abc": "", "Token abc": "", "": ""} {
		if got := bearerToken(h); got != want {
			t.Errorf("bearerToken(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	e := humaError(http.StatusBadRequest, "validation failed").(*Error)
	if e.Status != 422 || e.StatusText != "Parameter Error" {
		t.Errorf("400 becomes %d %q", e.Status, e.StatusText)
	}
	f := fail(t.Context(), nil, &vigil.Error{Code: vigil.ERATELIMIT, Message: "slow down", RetryAfter: 1500 * time.Millisecond}).(*Error)
	if f.Status != 429 || f.GetHeaders().Get("Retry-After") != "2" {
		t.Errorf("rate limit: %d %v", f.Status, f.GetHeaders())
	}
	if g := fail(t.Context(), discardLog(), &vigil.Error{Code: vigil.ENOTFOUND, Message: "x"}).(*Error); g.StatusText != "Record Not Found" {
		t.Errorf("not found: %+v", g)
	}
	if h := fail(t.Context(), discardLog(), errString("pq: secret internals")).(*Error); h.Status != 500 || h.Message != "" {
		t.Errorf("internal errors leak: %+v", h)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
