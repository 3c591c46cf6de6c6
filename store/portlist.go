package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type portListRow struct {
	bun.BaseModel  `bun:"table:port_lists,alias:port_list"`
	ID             string    `bun:"id,pk"`
	OrganizationID string    `bun:"organization_id"`
	Name           string    `bun:"name"`
	Comment        string    `bun:"comment"`
	BuiltinKey     string    `bun:"builtin_key,nullzero"`
	Active         bool      `bun:"active"`
	AppType        string    `bun:"app_type,nullzero"`
	PortRange      string    `bun:"port_range"`
	TCPCount       int       `bun:"tcp_count"`
	UDPCount       int       `bun:"udp_count"`
	PortCount      int       `bun:"port_count"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

type portRangeRow struct {
	bun.BaseModel  `bun:"table:port_list_ranges"`
	ID             string `bun:"id,pk"`
	OrganizationID string `bun:"organization_id"`
	PortListID     string `bun:"port_list_id"`
	Start          int    `bun:"start_port"`
	End            int    `bun:"end_port"`
	Protocol       string `bun:"protocol"`
}

func (r *portListRow) domain(ranges []vigil.PortRange) *vigil.PortList {
	return &vigil.PortList{ID: r.ID, OrganizationID: r.OrganizationID, Name: r.Name, Comment: r.Comment,
		BuiltinKey: r.BuiltinKey, Active: r.Active, AppType: r.AppType, Ranges: ranges,
		TCPCount: r.TCPCount, UDPCount: r.UDPCount, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

var portListColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "name": {expr: "name", text: true}, "comment": {expr: "comment", text: true},
	"app_type": {expr: "app_type"}, "active": {expr: "active"}, "builtin": {expr: "builtin_key IS NOT NULL"},
	"port_count": {expr: "port_count"}, "tcp_count": {expr: "tcp_count"}, "udp_count": {expr: "udp_count"},
	"created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
}

// FindPortLists lists orgID's port lists with their ranges (two queries, not one per list).
func (s *Store) FindPortLists(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.PortList, int, error) {
	var rows []*portListRow
	q := s.db.NewSelect().Model(&rows).Where("port_list.organization_id = ?", orgID)
	q, err := s.applyList(q, "port_list", portListColumns, vigil.PortListList, opts)
	if err != nil {
		return nil, 0, err
	}
	total, err := q.ScanAndCount(ctx)
	if err != nil {
		return nil, 0, err
	}
	lists, err := s.withRanges(ctx, s.db, rows)
	return lists, int(total), err
}

// withRanges loads the ranges of rows in one query.
func (s *Store) withRanges(ctx context.Context, db bun.IDB, rows []*portListRow) ([]*vigil.PortList, error) {
	if len(rows) == 0 {
		return []*vigil.PortList{}, nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	var rr []*portRangeRow
	if err := db.NewSelect().Model(&rr).Where("port_list_id IN (?)", bun.In(ids)).
		Order("port_list_id", "protocol", "start_port").Scan(ctx); err != nil {
		return nil, err
	}
	byList := map[string][]vigil.PortRange{}
	for _, r := range rr {
		byList[r.PortListID] = append(byList[r.PortListID], vigil.PortRange{ID: r.ID, Start: r.Start, End: r.End, Protocol: vigil.Protocol(r.Protocol)})
	}
	out := make([]*vigil.PortList, len(rows))
	for i, r := range rows {
		rs := byList[r.ID]
		if rs == nil {
			rs = []vigil.PortRange{}
		}
		out[i] = r.domain(rs)
	}
	return out, nil
}

// FindPortListByID returns ENOTFOUND unless the list exists in orgID.
func (s *Store) FindPortListByID(ctx context.Context, orgID, id string) (*vigil.PortList, error) {
	return s.findPortList(ctx, s.db, orgID, id)
}

func (s *Store) findPortList(ctx context.Context, db bun.IDB, orgID, id string) (*vigil.PortList, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("port list")
	}
	row := new(portListRow)
	if err := db.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "port list")
	}
	lists, err := s.withRanges(ctx, db, []*portListRow{row})
	if err != nil {
		return nil, err
	}
	return lists[0], nil
}

// CreatePortList creates a user-defined list.
func (s *Store) CreatePortList(ctx context.Context, orgID string, in vigil.PortListInput) (*vigil.PortList, error) {
	l := &vigil.PortList{OrganizationID: orgID, Active: true}
	if err := vigil.ApplyPortListInput(l, in, true); err != nil {
		return nil, err
	}
	var out *vigil.PortList
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		now := s.now()
		l.ID, l.CreatedAt, l.UpdatedAt = vigil.NewID(), now, now
		if _, err := tx.NewInsert().Model(portListToRow(l)).Exec(ctx); err != nil {
			return err
		}
		if err := s.replaceRanges(ctx, tx, l); err != nil {
			return err
		}
		if err := s.stampOwner(ctx, tx, "port_lists", l.ID); err != nil {
			return err
		}
		var err error
		out, err = s.findPortList(ctx, tx, orgID, l.ID)
		return err
	})
	return out, err
}

func portListToRow(l *vigil.PortList) *portListRow {
	return &portListRow{ID: l.ID, OrganizationID: l.OrganizationID, Name: l.Name, Comment: l.Comment, BuiltinKey: l.BuiltinKey,
		Active: l.Active, AppType: l.AppType, PortRange: l.PortRangeString(), TCPCount: l.TCPCount, UDPCount: l.UDPCount,
		PortCount: l.TCPCount + l.UDPCount, CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}
}

// replaceRanges writes l.Ranges as the list's ranges, keeping the ids of
// ranges that did not change.
func (s *Store) replaceRanges(ctx context.Context, tx bun.Tx, l *vigil.PortList) error {
	var old []*portRangeRow
	if err := tx.NewSelect().Model(&old).Where("port_list_id = ?", l.ID).Scan(ctx); err != nil {
		return err
	}
	type key struct {
		start, end int
		proto      string
	}
	keep := map[key]string{}
	for _, r := range old {
		keep[key{r.Start, r.End, r.Protocol}] = r.ID
	}
	var insert []*portRangeRow
	for i, r := range l.Ranges {
		k := key{r.Start, r.End, string(r.Protocol)}
		if id, ok := keep[k]; ok {
			l.Ranges[i].ID = id
			delete(keep, k)
			continue
		}
		l.Ranges[i].ID = vigil.NewID()
		insert = append(insert, &portRangeRow{ID: l.Ranges[i].ID, OrganizationID: l.OrganizationID, PortListID: l.ID,
			Start: r.Start, End: r.End, Protocol: string(r.Protocol)})
	}
	if len(keep) > 0 {
		ids := make([]string, 0, len(keep))
		for _, id := range keep {
			ids = append(ids, id)
		}
		if _, err := tx.NewDelete().Model((*portRangeRow)(nil)).Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return err
		}
	}
	if len(insert) > 0 {
		if _, err := tx.NewInsert().Model(&insert).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// UpdatePortList changes a user-defined list; built-ins are read-only.
func (s *Store) UpdatePortList(ctx context.Context, orgID, id string, in vigil.PortListInput) (*vigil.PortList, error) {
	return s.modifyPortList(ctx, orgID, id, func(l *vigil.PortList) (bool, error) {
		return true, vigil.ApplyPortListInput(l, in, false)
	})
}

// modifyPortList loads a list in a transaction, lets change edit it, and
// writes it back; rangesChanged tells whether to rewrite the ranges.
func (s *Store) modifyPortList(ctx context.Context, orgID, id string, change func(l *vigil.PortList) (rangesChanged bool, err error)) (*vigil.PortList, error) {
	var out *vigil.PortList
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		l, err := s.findPortList(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		rangesChanged, err := change(l)
		if err != nil {
			return err
		}
		l.TCPCount, l.UDPCount = vigil.CountPorts(l.Ranges)
		l.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(portListToRow(l)).WherePK().
			Column("name", "comment", "active", "app_type", "port_range", "tcp_count", "udp_count", "port_count", "updated_at").
			Exec(ctx); err != nil {
			return err
		}
		if rangesChanged {
			if err := s.replaceRanges(ctx, tx, l); err != nil {
				return err
			}
		}
		out, err = s.findPortList(ctx, tx, orgID, id)
		return err
	})
	return out, err
}

// AddPortRange adds one range to a user-defined list.
func (s *Store) AddPortRange(ctx context.Context, orgID, id string, r vigil.PortRange) (*vigil.PortList, error) {
	return s.modifyPortList(ctx, orgID, id, func(l *vigil.PortList) (bool, error) {
		rs := append(append([]vigil.PortRange(nil), l.Ranges...), r)
		return true, vigil.ApplyPortListInput(l, vigil.PortListInput{Ranges: &rs}, false)
	})
}

// DeletePortRange removes one range from a user-defined list.
func (s *Store) DeletePortRange(ctx context.Context, orgID, id, rangeID string) (*vigil.PortList, error) {
	return s.modifyPortList(ctx, orgID, id, func(l *vigil.PortList) (bool, error) {
		var rs []vigil.PortRange
		for _, r := range l.Ranges {
			if r.ID != rangeID {
				rs = append(rs, r)
			}
		}
		if len(rs) == len(l.Ranges) {
			return false, vigil.NotFound("port range")
		}
		return true, vigil.ApplyPortListInput(l, vigil.PortListInput{Ranges: &rs}, false)
	})
}

// SetPortListActive activates or deactivates a list (built-ins too).
func (s *Store) SetPortListActive(ctx context.Context, orgID, id string, active bool) (*vigil.PortList, error) {
	return s.modifyPortList(ctx, orgID, id, func(l *vigil.PortList) (bool, error) {
		l.Active = active
		return false, nil
	})
}

// SetPortListAppType ties a list to a product ("" for every product).
func (s *Store) SetPortListAppType(ctx context.Context, orgID, id, appType string) (*vigil.PortList, error) {
	valid := appType == ""
	for _, a := range vigil.AppTypes {
		valid = valid || a == appType
	}
	if !valid {
		return nil, vigil.FieldError("port_list.app_type", "must be one of %s, or null; got %q", strings.Join(vigil.AppTypes, ", "), appType)
	}
	return s.modifyPortList(ctx, orgID, id, func(l *vigil.PortList) (bool, error) {
		l.AppType = appType
		return false, nil
	})
}

// DeletePortLists deletes every id or none.
func (s *Store) DeletePortLists(ctx context.Context, orgID string, ids []string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkAllExist(ctx, tx, (*portListRow)(nil), orgID, ids, "port list"); err != nil {
			return err
		}
		var builtins []string
		if err := tx.NewSelect().Model((*portListRow)(nil)).Column("name").
			Where("organization_id = ? AND id IN (?) AND builtin_key IS NOT NULL", orgID, bun.In(ids)).Scan(ctx, &builtins); err != nil {
			return err
		}
		if len(builtins) > 0 {
			return vigil.FieldError("ids", "built-in port lists cannot be deleted: %s", strings.Join(builtins, ", "))
		}
		var users []string
		if err := tx.NewSelect().Model((*targetRow)(nil)).Column("name").
			Where("organization_id = ? AND port_list_id IN (?)", orgID, bun.In(ids)).Order("name").Limit(5).Scan(ctx, &users); err != nil {
			return err
		}
		if len(users) > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "port list is in use by targets: %s", strings.Join(users, ", "))
		}
		_, err := tx.NewDelete().Model((*portListRow)(nil)).Where("organization_id = ? AND id IN (?)", orgID, bun.In(ids)).Exec(ctx)
		return err
	})
}

// SyncBuiltinPortLists re-applies the built-in definitions to orgID.
func (s *Store) SyncBuiltinPortLists(ctx context.Context, orgID string) (*vigil.PortListSyncResult, error) {
	var res *vigil.PortListSyncResult
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		res, err = s.syncBuiltinPortLists(ctx, tx, orgID)
		return err
	})
	return res, err
}

func (s *Store) syncBuiltinPortLists(ctx context.Context, tx bun.Tx, orgID string) (*vigil.PortListSyncResult, error) {
	res := &vigil.PortListSyncResult{Created: []string{}, Updated: []string{}, Unchanged: []string{}}
	var rows []*portListRow
	if err := tx.NewSelect().Model(&rows).Where("organization_id = ? AND builtin_key IS NOT NULL", orgID).Scan(ctx); err != nil {
		return nil, err
	}
	existing := map[string]*portListRow{}
	for _, r := range rows {
		existing[r.BuiltinKey] = r
	}
	now := s.now()
	for _, def := range vigil.BuiltinPortLists() {
		want := &vigil.PortList{OrganizationID: orgID, Name: def.Name, Comment: def.Comment, BuiltinKey: def.Key,
			Active: true, Ranges: def.Ranges, CreatedAt: now, UpdatedAt: now}
		want.TCPCount, want.UDPCount = vigil.CountPorts(want.Ranges)
		row, ok := existing[def.Key]
		if !ok {
			want.ID = vigil.NewID()
			if _, err := tx.NewInsert().Model(portListToRow(want)).Exec(ctx); err != nil {
				return nil, err
			}
			if err := s.replaceRanges(ctx, tx, want); err != nil {
				return nil, err
			}
			res.Created = append(res.Created, def.Name)
			continue
		}
		if row.Name == def.Name && row.Comment == def.Comment && row.PortRange == want.PortRangeString() {
			res.Unchanged = append(res.Unchanged, def.Name)
			continue
		}
		// Activation and app_type are the organization's choices: keep them.
		want.ID, want.Active, want.AppType, want.CreatedAt = row.ID, row.Active, row.AppType, row.CreatedAt
		if _, err := tx.NewUpdate().Model(portListToRow(want)).WherePK().
			Column("name", "comment", "port_range", "tcp_count", "udp_count", "port_count", "updated_at").Exec(ctx); err != nil {
			return nil, err
		}
		if err := s.replaceRanges(ctx, tx, want); err != nil {
			return nil, err
		}
		res.Updated = append(res.Updated, def.Name)
	}
	sort.Strings(res.Created)
	return res, nil
}

// defaultPortListID is the list a target gets when it names none.
func (s *Store) defaultPortListID(ctx context.Context, db bun.IDB, orgID string) (string, error) {
	var id string
	err := db.NewSelect().Model((*portListRow)(nil)).Column("id").
		Where("organization_id = ? AND builtin_key = ?", orgID, "common-tcp").Scan(ctx, &id)
	if err != nil {
		return "", fmt.Errorf("store: default port list of organization %s: %w", orgID, err)
	}
	return id, nil
}

var _ vigil.PortListService = (*Store)(nil)
