package store

import (
	"context"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type targetRow struct {
	bun.BaseModel    `bun:"table:targets,alias:target"`
	ID               string    `bun:"id,pk"`
	OrganizationID   string    `bun:"organization_id"`
	Name             string    `bun:"name"`
	Hosts            string    `bun:"hosts"`
	ExcludeHosts     string    `bun:"exclude_hosts"`
	Comment          string    `bun:"comment"`
	PortListID       string    `bun:"port_list_id"`
	AliveTest        string    `bun:"alive_test"`
	SSHCredentialID  string    `bun:"ssh_credential_id,nullzero"`
	SMBCredentialID  string    `bun:"smb_credential_id,nullzero"`
	ESXiCredentialID string    `bun:"esxi_credential_id,nullzero"`
	SNMPCredentialID string    `bun:"snmp_credential_id,nullzero"`
	HostCount        int64     `bun:"host_count"`
	CreatedAt        time.Time `bun:"created_at"`
	UpdatedAt        time.Time `bun:"updated_at"`
}

func (r *targetRow) domain() *vigil.Target {
	return &vigil.Target{ID: r.ID, OrganizationID: r.OrganizationID, Name: r.Name, Hosts: r.Hosts, ExcludeHosts: r.ExcludeHosts,
		Comment: r.Comment, PortListID: r.PortListID, AliveTest: vigil.AliveTest(r.AliveTest),
		Credentials: vigil.CredentialRefs{SSH: r.SSHCredentialID, SMB: r.SMBCredentialID, ESXi: r.ESXiCredentialID, SNMP: r.SNMPCredentialID},
		HostCount:   r.HostCount, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func targetToRow(t *vigil.Target) *targetRow {
	return &targetRow{ID: t.ID, OrganizationID: t.OrganizationID, Name: t.Name, Hosts: t.Hosts, ExcludeHosts: t.ExcludeHosts,
		Comment: t.Comment, PortListID: t.PortListID, AliveTest: string(t.AliveTest),
		SSHCredentialID: t.Credentials.SSH, SMBCredentialID: t.Credentials.SMB, ESXiCredentialID: t.Credentials.ESXi,
		SNMPCredentialID: t.Credentials.SNMP, HostCount: t.HostCount, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

var targetColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "name": {expr: "name", text: true}, "hosts": {expr: "hosts", text: true},
	"exclude_hosts": {expr: "exclude_hosts", text: true}, "comment": {expr: "comment", text: true},
	"alive_test": {expr: "alive_test"}, "port_list_id": {expr: "port_list_id", uuid: true},
	"host_count": {expr: "host_count"}, "created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
}

// FindTargets lists orgID's targets.
func (s *Store) FindTargets(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Target, int, error) {
	var rows []*targetRow
	q := s.db.NewSelect().Model(&rows).Where("target.organization_id = ?", orgID)
	q = scopeToGroups(q, vigil.ResourceTarget, "target", opts)
	return listPage(ctx, s, q, &rows, "target", targetColumns, vigil.TargetList, opts)
}

// FindTargetByID returns ENOTFOUND unless the target exists in orgID.
func (s *Store) FindTargetByID(ctx context.Context, orgID, id string) (*vigil.Target, error) {
	return s.findTarget(ctx, s.db, orgID, id)
}

func (s *Store) findTarget(ctx context.Context, db bun.IDB, orgID, id string) (*vigil.Target, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("target")
	}
	row := new(targetRow)
	if err := db.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "target")
	}
	return row.domain(), nil
}

// CreateTarget validates in, checks its port list and credentials belong to
// orgID, and stores the target.
func (s *Store) CreateTarget(ctx context.Context, orgID string, in vigil.TargetInput) (*vigil.Target, error) {
	t := &vigil.Target{OrganizationID: orgID}
	if err := vigil.ApplyTargetInput(t, in, true, s.opts.MaxTargetHosts); err != nil {
		return nil, err
	}
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkTargetRefs(ctx, tx, t); err != nil {
			return err
		}
		if err := s.checkIPLimit(ctx, tx, orgID, "", t.HostCount); err != nil {
			return err
		}
		now := s.now()
		t.ID, t.CreatedAt, t.UpdatedAt = vigil.NewID(), now, now
		if _, err := tx.NewInsert().Model(targetToRow(t)).Exec(ctx); err != nil {
			return err
		}
		return s.stampOwner(ctx, tx, "targets", t.ID)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// UpdateTarget applies a partial update: fields not given keep their values.
func (s *Store) UpdateTarget(ctx context.Context, orgID, id string, in vigil.TargetInput) (*vigil.Target, error) {
	var t *vigil.Target
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if t, err = s.findTarget(ctx, tx, orgID, id); err != nil {
			return err
		}
		before := t.HostCount
		if err := vigil.ApplyTargetInput(t, in, false, s.opts.MaxTargetHosts); err != nil {
			return err
		}
		if err := s.checkTargetRefs(ctx, tx, t); err != nil {
			return err
		}
		// Only growth is checked: a plan cut below what exists already must
		// not freeze renames and shrinking.
		if t.HostCount > before {
			if err := s.checkIPLimit(ctx, tx, orgID, t.ID, t.HostCount); err != nil {
				return err
			}
		}
		t.UpdatedAt = s.now()
		_, err = tx.NewUpdate().Model(targetToRow(t)).WherePK().ExcludeColumn("id", "organization_id", "created_at").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// checkIPLimit refuses a target whose addresses would take the
// organization's targets past its plan's number of IPs. exceptID is the
// target being changed (its old count is replaced).
func (s *Store) checkIPLimit(ctx context.Context, tx bun.Tx, orgID, exceptID string, hosts int64) error {
	err := s.checkLimit(ctx, tx, orgID, vigil.FeatureMaxIPs, "IP addresses", hosts, func() (int64, error) {
		var sum int64
		q := tx.NewSelect().Model((*targetRow)(nil)).ColumnExpr("COALESCE(SUM(host_count), 0)").Where("organization_id = ?", orgID)
		if exceptID != "" {
			q = q.Where("id <> ?", exceptID)
		}
		err := q.Scan(ctx, &sum)
		return sum, err
	})
	if fields := vigil.FieldsOf(err); fields != nil {
		return vigil.FieldError("target.hosts", "%s", fields[vigil.FeatureMaxIPs][0])
	}
	return err
}

// stampOwner records the signed-in user as the owner of a new row, so its
// resources can be listed and transferred.
func (s *Store) stampOwner(ctx context.Context, tx bun.Tx, table, id string) error {
	p := vigil.PrincipalFromContext(ctx)
	if p == nil || p.UserID == "" {
		return nil
	}
	_, err := tx.NewUpdate().Table(table).Set("owner_id = ?", p.UserID).Where("id = ?", id).Exec(ctx)
	return err
}

// checkTargetRefs makes sure the port list and each credential exist in the
// target's organization and that each credential fits its slot. A missing
// port list means the organization's default.
func (s *Store) checkTargetRefs(ctx context.Context, tx bun.Tx, t *vigil.Target) error {
	v := vigil.NewValidation("target")
	if t.PortListID == "" {
		id, err := s.defaultPortListID(ctx, tx, t.OrganizationID)
		if err != nil {
			return err
		}
		t.PortListID = id
	} else {
		n, err := tx.NewSelect().Model((*portListRow)(nil)).Where("id = ? AND organization_id = ?", t.PortListID, t.OrganizationID).Count(ctx)
		if err != nil {
			return err
		} else if n == 0 {
			v.Add("port_list_id", "no such port list")
		}
	}
	slots := t.Credentials.Slots()
	if len(slots) > 0 {
		ids := make([]string, 0, len(slots))
		for _, id := range slots {
			ids = append(ids, id)
		}
		var found []struct {
			ID   string `bun:"id"`
			Type string `bun:"type"`
		}
		if err := tx.NewSelect().Model((*credentialRow)(nil)).Column("id", "type").
			Where("organization_id = ? AND id IN (?)", t.OrganizationID, bun.In(ids)).Scan(ctx, &found); err != nil {
			return err
		}
		types := map[string]string{}
		for _, f := range found {
			types[f.ID] = f.Type
		}
		for slot, id := range slots {
			switch typ, ok := types[id]; {
			case !ok:
				v.Add("credentials."+string(slot), "no such credential")
			case typ != string(slot):
				v.Addf("credentials."+string(slot), "is a %s credential; this slot takes %s", typ, slot)
			}
		}
	}
	return v.Err()
}

// DeleteTargets deletes every id or none.
func (s *Store) DeleteTargets(ctx context.Context, orgID string, ids []string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkAllExist(ctx, tx, (*targetRow)(nil), orgID, ids, "target"); err != nil {
			return err
		}
		// note: scans (a later issue) reference targets with ON DELETE RESTRICT;
		// the foreign-key error becomes ECONFLICT in translate, so a target in
		// use can never be deleted even before a friendlier check names the scan.
		_, err := tx.NewDelete().Model((*targetRow)(nil)).Where("organization_id = ? AND id IN (?)", orgID, bun.In(ids)).Exec(ctx)
		if vigil.ErrorCode(translate(err)) == vigil.ECONFLICT {
			return vigil.Errorf(vigil.ECONFLICT, "target is in use by a scan and cannot be deleted")
		}
		return err
	})
}

// checkAllExist returns ENOTFOUND naming the first id not in orgID.
func (s *Store) checkAllExist(ctx context.Context, tx bun.Tx, model any, orgID string, ids []string, what string) error {
	if len(ids) == 0 {
		return vigil.FieldError("ids", "can't be blank")
	}
	for _, id := range ids {
		if !vigil.IsUUID(id) {
			return vigil.NotFound(what)
		}
	}
	var found []string
	if err := tx.NewSelect().Model(model).Column("id").Where("organization_id = ? AND id IN (?)", orgID, bun.In(ids)).Scan(ctx, &found); err != nil {
		return err
	}
	have := map[string]bool{}
	for _, id := range found {
		have[strings.ToLower(id)] = true
	}
	for _, id := range ids {
		if !have[strings.ToLower(id)] {
			return &vigil.Error{Code: vigil.ENOTFOUND, Message: what + " " + id + " not found"}
		}
	}
	return nil
}

var _ vigil.TargetService = (*Store)(nil)
