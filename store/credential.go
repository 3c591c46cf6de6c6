package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type credentialRow struct {
	bun.BaseModel  `bun:"table:credentials,alias:credential"`
	ID             string    `bun:"id,pk"`
	OrganizationID string    `bun:"organization_id"`
	Name           string    `bun:"name"`
	Comment        string    `bun:"comment"`
	Type           string    `bun:"type"`
	Username       string    `bun:"username"`
	Port           int       `bun:"port"`
	Domain         string    `bun:"domain"`
	SNMPVersion    string    `bun:"snmp_version"`
	AuthProtocol   string    `bun:"auth_protocol"`
	PrivProtocol   string    `bun:"priv_protocol"`
	Secrets        []byte    `bun:"secrets"`
	SecretFields   string    `bun:"secret_fields"` // names of the secrets that are set, so listings need not decrypt
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

var credentialColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "name": {expr: "name", text: true}, "comment": {expr: "comment", text: true},
	"username": {expr: "username", text: true}, "type": {expr: "type"},
	"created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
}

// secretFieldNames returns the names of the secrets a credential has set.
func secretFieldNames(sec vigil.CredentialSecrets) []string {
	var names []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"password", sec.Password != ""}, {"private_key", sec.PrivateKey != ""}, {"passphrase", sec.Passphrase != ""},
		{"community", sec.Community != ""}, {"auth_password", sec.AuthPassword != ""}, {"priv_password", sec.PrivPassword != ""}} {
		if f.set {
			names = append(names, f.name)
		}
	}
	return names
}

// credentialAAD binds a sealed secret to its organization and record.
func credentialAAD(orgID, id string) []byte { return []byte("credential:" + orgID + ":" + id) }

func (s *Store) sealSecrets(c *vigil.Credential) ([]byte, error) {
	if s.opts.Sealer == nil {
		return nil, errors.New("store: no secret sealer configured")
	}
	plain, err := json.Marshal(c.Secrets)
	if err != nil {
		return nil, err
	}
	return s.opts.Sealer.Seal(plain, credentialAAD(c.OrganizationID, c.ID))
}

// credentialDomain converts a row; with open it decrypts the secrets. Either
// way SecretsSet names the secrets that are set (listings never decrypt).
func (s *Store) credentialDomain(r *credentialRow, open bool) (*vigil.Credential, error) {
	c := &vigil.Credential{ID: r.ID, OrganizationID: r.OrganizationID, Name: r.Name, Comment: r.Comment, Type: vigil.CredentialType(r.Type),
		Username: r.Username, Port: r.Port, Domain: r.Domain, SNMPVersion: r.SNMPVersion, AuthProtocol: r.AuthProtocol,
		PrivProtocol: r.PrivProtocol, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.SecretFields != "" {
		c.SecretsSet = strings.Split(r.SecretFields, ",")
	}
	if open {
		if s.opts.Sealer == nil {
			return nil, errors.New("store: no secret sealer configured")
		}
		plain, err := s.opts.Sealer.Open(r.Secrets, credentialAAD(r.OrganizationID, r.ID))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(plain, &c.Secrets); err != nil {
			return nil, err
		}
		return c, nil
	}
	return c, nil
}

// FindCredentials lists orgID's credentials; secrets are not decrypted.
func (s *Store) FindCredentials(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Credential, int, error) {
	var rows []*credentialRow
	q := s.db.NewSelect().Model(&rows).ExcludeColumn("secrets").Where("credential.organization_id = ?", orgID)
	q, err := s.applyList(q, "credential", credentialColumns, vigil.CredentialList, opts)
	if err != nil {
		return nil, 0, err
	}
	total, err := q.ScanAndCount(ctx)
	if err != nil {
		return nil, 0, err
	}
	out := make([]*vigil.Credential, len(rows))
	for i, r := range rows {
		if out[i], err = s.credentialDomain(r, false); err != nil {
			return nil, 0, err
		}
	}
	return out, int(total), nil
}

// FindCredentialByID returns the credential with its secrets decrypted, for
// the scanner; the API layer must not return them.
func (s *Store) FindCredentialByID(ctx context.Context, orgID, id string) (*vigil.Credential, error) {
	return s.findCredential(ctx, s.db, orgID, id)
}

func (s *Store) findCredential(ctx context.Context, db bun.IDB, orgID, id string) (*vigil.Credential, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("credential")
	}
	row := new(credentialRow)
	if err := db.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "credential")
	}
	return s.credentialDomain(row, true)
}

// CreateCredential validates in and stores it with its secrets sealed.
func (s *Store) CreateCredential(ctx context.Context, orgID string, in vigil.CredentialInput) (*vigil.Credential, error) {
	c := &vigil.Credential{OrganizationID: orgID}
	if err := vigil.ApplyCredentialInput(c, in, true); err != nil {
		return nil, err
	}
	now := s.now()
	c.ID, c.CreatedAt, c.UpdatedAt = vigil.NewID(), now, now
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.credentialToRow(c)
		if err != nil {
			return err
		}
		if _, err = tx.NewInsert().Model(row).Exec(ctx); err != nil {
			return err
		}
		return s.stampOwner(ctx, tx, "credentials", c.ID)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Store) credentialToRow(c *vigil.Credential) (*credentialRow, error) {
	c.SecretsSet = secretFieldNames(c.Secrets)
	sealed, err := s.sealSecrets(c)
	if err != nil {
		return nil, err
	}
	return &credentialRow{ID: c.ID, OrganizationID: c.OrganizationID, Name: c.Name, Comment: c.Comment, Type: string(c.Type),
		Username: c.Username, Port: c.Port, Domain: c.Domain, SNMPVersion: c.SNMPVersion, AuthProtocol: c.AuthProtocol,
		PrivProtocol: c.PrivProtocol, Secrets: sealed, SecretFields: strings.Join(c.SecretsSet, ","), CreatedAt: c.CreatedAt,
		UpdatedAt: c.UpdatedAt}, nil
}

// UpdateCredential applies a partial update; the type cannot change.
func (s *Store) UpdateCredential(ctx context.Context, orgID, id string, in vigil.CredentialInput) (*vigil.Credential, error) {
	var c *vigil.Credential
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if c, err = s.findCredential(ctx, tx, orgID, id); err != nil {
			return err
		}
		if err := vigil.ApplyCredentialInput(c, in, false); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		row, err := s.credentialToRow(c)
		if err != nil {
			return err
		}
		_, err = tx.NewUpdate().Model(row).WherePK().ExcludeColumn("id", "organization_id", "type", "created_at").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteCredentials deletes every id or none; ECONFLICT names targets using one.
func (s *Store) DeleteCredentials(ctx context.Context, orgID string, ids []string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.checkAllExist(ctx, tx, (*credentialRow)(nil), orgID, ids, "credential"); err != nil {
			return err
		}
		var users []string
		if err := tx.NewSelect().Model((*targetRow)(nil)).Column("name").
			Where("organization_id = ?", orgID).
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("ssh_credential_id IN (?)", bun.In(ids)).WhereOr("smb_credential_id IN (?)", bun.In(ids)).
					WhereOr("esxi_credential_id IN (?)", bun.In(ids)).WhereOr("snmp_credential_id IN (?)", bun.In(ids))
			}).Order("name").Limit(5).Scan(ctx, &users); err != nil {
			return err
		}
		if len(users) > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "credential is in use by targets: %s", strings.Join(users, ", "))
		}
		_, err := tx.NewDelete().Model((*credentialRow)(nil)).Where("organization_id = ? AND id IN (?)", orgID, bun.In(ids)).Exec(ctx)
		return err
	})
}

var _ vigil.CredentialService = (*Store)(nil)
