package store

import (
	"context"
	"net/netip"
	"strings"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

// column maps an API list column to SQL.
type column struct {
	expr string // the SQL column
	text bool   // case-insensitive text: filtered and sorted without regard to case
	uuid bool   // a UUID column: filter values must be UUIDs
	sort string // the SQL column sorted by, when not expr (addresses sort by their numeric key)
	ip   bool   // expr holds ipKey(address): filter values must be addresses
}

// applyList adds the filters, date window, sort and paging of opts to q. The
// columns were allow-listed by the caller against the resource's vigil.ListSpec;
// cols maps them to SQL. Values are always bound, never spliced into SQL.
func (s *Store) applyList(q *bun.SelectQuery, table string, cols map[string]column, spec vigil.ListSpec, opts vigil.ListOptions) (*bun.SelectQuery, error) {
	q, err := s.applyFilters(q, table, cols, spec, opts)
	if err != nil {
		return nil, err
	}
	order, err := s.listOrder(table, cols, spec, opts)
	if err != nil {
		return nil, err
	}
	return q.OrderExpr(strings.Join(order, ", ")).Limit(int64(opts.PerPage)).Offset(int64(opts.Offset())), nil
}

// applyFilters adds the filters and date window of opts to q.
func (s *Store) applyFilters(q *bun.SelectQuery, table string, cols map[string]column, spec vigil.ListSpec, opts vigil.ListOptions) (*bun.SelectQuery, error) {
	qual := func(expr string) string { return table + "." + expr }
	for _, f := range opts.Filters {
		c, ok := cols[f.Column]
		if !ok {
			return nil, vigil.FieldError("q["+f.Column+"]", "unknown filter column")
		}
		switch f.Kind {
		case vigil.FilterText:
			pattern, wild := likePattern(f.Value)
			lhs := qual(c.expr)
			if s.dialect == Postgres {
				lhs = "lower(" + lhs + ")"
				pattern = strings.ToLower(pattern)
			}
			switch {
			case !wild:
				// SQLite's text columns are COLLATE NOCASE, so = is case-insensitive
				// there; PostgreSQL compares lower() on both sides.
				q = q.Where("? = ?", bun.Safe(lhs), strings.ToLower(f.Value))
			case strings.ContainsAny(f.Value, `%_\`):
				// SQLite only uses an index for LIKE without ESCAPE, so the clause is
				// added only when the value has characters that need escaping.
				q = q.Where(`? LIKE ? ESCAPE '\'`, bun.Safe(lhs), pattern)
			default:
				q = q.Where("? LIKE ?", bun.Safe(lhs), pattern)
			}
		case vigil.FilterSeverity:
			// Classes are score ranges, so the filter uses the score's index.
			var conds []string
			var args []any
			for _, cl := range strings.Split(f.Value, ",") {
				lo, hi, ok := vigil.SeverityRange(strings.TrimSpace(strings.ToLower(cl)))
				if !ok {
					return nil, vigil.FieldError("q["+f.Column+"]", "must be high, medium, low, log or false_positive, got %q", cl)
				}
				conds = append(conds, "(? >= ? AND ? < ?)")
				args = append(args, bun.Safe(qual(c.expr)), lo, bun.Safe(qual(c.expr)), hi)
			}
			q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
		case vigil.FilterMin:
			q = q.Where("? >= ?", bun.Safe(qual(c.expr)), f.Number)
		case vigil.FilterMax:
			q = q.Where("? <= ?", bun.Safe(qual(c.expr)), f.Number)
		case vigil.FilterAfter:
			q = q.Where("? >= ?", bun.Safe(qual(c.expr)), f.Time)
		case vigil.FilterBefore:
			q = q.Where("? < ?", bun.Safe(qual(c.expr)), f.Time)
		case vigil.FilterIn:
			q = q.Where("? IN (?)", bun.Safe(qual(c.expr)), bun.In(f.Values))
		case vigil.FilterNotNull:
			q = q.Where("? IS NOT NULL", bun.Safe(qual(c.expr)))
		case vigil.FilterBool:
			b, ok := parseBool(f.Value)
			if !ok {
				return nil, vigil.FieldError("q["+f.Column+"]", "must be true or false, got %q", f.Value)
			}
			q = q.Where("? = ?", bun.Safe(qual(c.expr)), b)
		default:
			if strings.Contains(f.Value, "*") {
				return nil, vigil.FieldError("q["+f.Column+"]", "wildcards are not supported on this column")
			}
			if c.uuid && !vigil.IsUUID(f.Value) {
				return nil, vigil.FieldError("q["+f.Column+"]", "must be a UUID, got %q", f.Value)
			}
			v := f.Value
			if c.ip {
				a, err := netip.ParseAddr(strings.TrimSpace(v))
				if err != nil {
					return nil, vigil.FieldError("q["+f.Column+"]", "must be an IP address, got %q", f.Value)
				}
				v = ipKey(a.Unmap())
			}
			q = q.Where("? = ?", bun.Safe(qual(c.expr)), v)
		}
	}
	if spec.DateColumn != "" {
		if opts.From != nil {
			q = q.Where("? >= ?", bun.Safe(qual(spec.DateColumn)), *opts.From)
		}
		if opts.To != nil {
			q = q.Where("? < ?", bun.Safe(qual(spec.DateColumn)), *opts.To)
		}
	}
	return q, nil
}

// listOrder is the ORDER BY of opts: its sort terms, then a unique tiebreaker.
func (s *Store) listOrder(table string, cols map[string]column, spec vigil.ListSpec, opts vigil.ListOptions) ([]string, error) {
	qual := func(expr string) string { return table + "." + expr }
	var order []string
	sorts := opts.Sort
	if len(sorts) == 0 {
		sorts = spec.DefaultSort
	}
	for _, o := range sorts {
		c, ok := cols[o.Column]
		if !ok {
			return nil, vigil.FieldError("sort_by", "cannot sort by %q", o.Column)
		}
		expr := qual(c.expr)
		if c.sort != "" {
			expr = qual(c.sort)
		} else if c.text && s.dialect == Postgres {
			expr = "lower(" + expr + ")"
		}
		if o.Desc {
			expr += " DESC"
		}
		order = append(order, expr)
	}
	// A unique tiebreaker keeps pages stable when sort values repeat. It runs
	// in the direction of the last term, so one index (..., col, id) serves
	// both directions of a sort.
	tie := qual("id")
	if c, ok := cols["id"]; ok {
		tie = qual(c.expr)
	}
	if len(sorts) > 0 && sorts[len(sorts)-1].Desc {
		tie += " DESC"
	}
	return append(order, tie), nil
}

// likePattern turns a q[...] value with '*' wildcards into a LIKE pattern,
// escaping LIKE's own metacharacters. wild reports whether it had a '*'.
func likePattern(v string) (pattern string, wild bool) {
	var b strings.Builder
	for _, r := range v {
		switch r {
		case '*':
			b.WriteByte('%')
			wild = true
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), wild
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "t":
		return true, true
	case "false", "0", "no", "f":
		return false, true
	}
	return false, false
}

// listPageByID is listPage for wide rows: the filters, sort and paging pick
// the page's ids first, from indexes where they cover the query, so sorting
// and skipping to a deep page handle ids and sort keys, and only the page's
// rows are read in full. q selects into rows from table, whose key is "id".
func listPageByID[R interface{ domain() D }, D any](ctx context.Context, s *Store, q *bun.SelectQuery, rows *[]R, table string,
	cols map[string]column, spec vigil.ListSpec, opts vigil.ListOptions) ([]D, int, error) {
	ids, err := s.applyFilters(q.Column("id"), table, cols, spec, opts)
	if err != nil {
		return nil, 0, err
	}
	order, err := s.listOrder(table, cols, spec, opts)
	if err != nil {
		return nil, 0, err
	}
	orderBy := strings.Join(order, ", ")
	pageIDs := ids.Clone().OrderExpr(orderBy).Limit(int64(opts.PerPage)).Offset(int64(opts.Offset()))
	page := s.db.NewSelect().Model(rows).Where("?.id IN (?)", bun.Ident(table), pageIDs).OrderExpr(orderBy)
	var total int64
	counted := make(chan error, 1)
	go func() {
		var err error
		total, err = ids.Count(ctx)
		counted <- err
	}()
	err = page.Scan(ctx)
	if cerr := <-counted; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, 0, err
	}
	return domains(*rows), int(total), nil
}

// domains converts rows to their domain values.
func domains[R interface{ domain() D }, D any](rows []R) []D {
	out := make([]D, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out
}

// listPage runs a list query over rows (q selects into rows) with the
// filters, sort and paging of opts, and converts each row.
func listPage[R interface{ domain() D }, D any](ctx context.Context, s *Store, q *bun.SelectQuery, rows *[]R, table string,
	cols map[string]column, spec vigil.ListSpec, opts vigil.ListOptions) ([]D, int, error) {
	q, err := s.applyList(q, table, cols, spec, opts)
	if err != nil {
		return nil, 0, err
	}
	total, err := q.ScanAndCount(ctx)
	if err != nil {
		return nil, 0, err
	}
	return domains(*rows), int(total), nil
}
