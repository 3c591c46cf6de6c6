package httpapi

import (
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
)

// ListParams are the query parameters every list endpoint takes. q[column]
// filters are read from the raw query in Resolve, because their names depend
// on the resource; Options validates them against the resource's allow-list.
type ListParams struct {
	Page              int    `query:"page" minimum:"1" default:"1" doc:"Page number, from 1"`
	PerPage           int    `query:"per_page" minimum:"1" maximum:"500" default:"25" doc:"Rows per page (at most 500)"`
	SortBy            string `query:"sort_by" maxLength:"200" doc:"Sort column: 'name', 'name asc', 'name desc' or '-name'; comma-separate several" example:"name desc"`
	DateRangeStart    string `query:"date_range_start" maxLength:"40" doc:"Only rows created at or after this time, 'YYYY-MM-DD hh:mm:ss' (UTC)" example:"2024-01-01 00:00:00"`
	DateRangeEnd      string `query:"date_range_end" maxLength:"40" doc:"Only rows created at or before this time, 'YYYY-MM-DD hh:mm:ss' (UTC)" example:"2024-12-31 23:59:59"`
	RelativeDateRange string `query:"relative_date_range" maxLength:"20" doc:"Only rows created in the last <n><unit> (s, m, h, d, M, y, q), or quarter n of a year ('1q2020')" example:"10d"`

	rawQuery string
}

// Resolve keeps the raw query for the q[...] filters.
func (p *ListParams) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	p.rawQuery = u.RawQuery
	return nil
}

// Options validates the parameters against spec. now anchors relative ranges.
func (p *ListParams) Options(spec vigil.ListSpec, now time.Time) (vigil.ListOptions, error) {
	opts := vigil.ListOptions{Page: p.Page, PerPage: p.PerPage}
	if opts.Page == 0 {
		opts.Page = 1
	}
	if opts.PerPage == 0 {
		opts.PerPage = vigil.DefaultPerPage
	}
	v := vigil.NewValidation("")
	values, err := url.ParseQuery(p.rawQuery)
	if err != nil {
		v.Add("query", "malformed query string")
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "q[") {
			continue
		}
		col, ok := strings.CutSuffix(k[2:], "]")
		kind, known := spec.Filters[col]
		if !ok || !known {
			v.Addf(k, "unknown filter column %q; allowed: %s", strings.TrimSuffix(k[2:], "]"), strings.Join(filterNames(spec), ", "))
			continue
		}
		for _, val := range values[k] {
			if len(val) > 1000 {
				v.Add(k, "is too long (maximum is 1000 characters)")
				continue
			}
			f := vigil.Filter{Column: col, Kind: kind, Value: val}
			if err := vigil.CheckFilter(&f); err != nil {
				v.Add(k, err.Error())
				continue
			}
			opts.Filters = append(opts.Filters, f)
		}
	}
	if p.SortBy != "" {
		if opts.Sort, err = vigil.ParseSortBy(spec, p.SortBy); err != nil {
			v.Add("sort_by", fieldMessage(err, "sort_by"))
		}
	}
	if p.DateRangeStart != "" {
		t, err := vigil.ParseFilterDate(p.DateRangeStart)
		if err != nil {
			v.Add("date_range_start", err.Error())
		} else {
			opts.From = &t
		}
	}
	if p.DateRangeEnd != "" {
		t, err := vigil.ParseFilterDate(p.DateRangeEnd)
		if err != nil {
			v.Add("date_range_end", err.Error())
		} else {
			// The end second is inclusive: "23:59:59" covers the whole second.
			t = t.Add(time.Second)
			opts.To = &t
		}
	}
	if p.RelativeDateRange != "" {
		if opts.From != nil || opts.To != nil {
			v.Add("relative_date_range", "cannot be combined with date_range_start or date_range_end")
		} else if from, to, err := vigil.ParseRelativeDateRange(p.RelativeDateRange, now); err != nil {
			v.Add("relative_date_range", err.Error())
		} else {
			opts.From, opts.To = &from, &to
		}
	}
	if opts.From != nil && opts.To != nil && !opts.From.Before(*opts.To) {
		v.Add("date_range_end", "must be after date_range_start")
	}
	return opts, v.Err()
}

// fieldMessage is the first message err carries for field.
func fieldMessage(err error, field string) string {
	if e, ok := err.(*vigil.Error); ok && len(e.Fields[field]) > 0 {
		return e.Fields[field][0]
	}
	return vigil.ErrorMessage(err)
}

func filterNames(spec vigil.ListSpec) []string {
	names := make([]string, 0, len(spec.Filters))
	for k := range spec.Filters {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// documentList adds the resource's q[...] filters to the operation's
// parameters so the OpenAPI document lists them.
func documentList(op *huma.Operation, spec vigil.ListSpec) {
	for _, name := range filterNames(spec) {
		desc := "Filter on " + name + "; '*' is a wildcard ('web*'), otherwise the match is exact (case-insensitive)"
		switch spec.Filters[name] {
		case vigil.FilterExact:
			desc = "Filter on " + name + " (exact value)"
		case vigil.FilterBool:
			desc = "Filter on " + name + " (true or false)"
		case vigil.FilterSeverity:
			desc = "Filter on the severity class: high, medium, low or log; comma-separate several"
		case vigil.FilterMin, vigil.FilterMax:
			desc = "Numeric bound (" + name + ")"
		case vigil.FilterAfter, vigil.FilterBefore:
			desc = "Time bound (" + name + "), 'YYYY-MM-DD hh:mm:ss' or 'YYYY-MM-DD' (UTC)"
		}
		op.Parameters = append(op.Parameters, &huma.Param{Name: "q[" + name + "]", In: "query", Description: desc,
			Schema: &huma.Schema{Type: huma.TypeString}})
	}
	op.Description += "\n\nSortable columns: " + strings.Join(spec.Sorts, ", ") + "."
}

// ListMeta is the pagination block of list responses.
type ListMeta = vigil.ListMeta
