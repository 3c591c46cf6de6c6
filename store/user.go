package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

var userColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "email": {expr: "email", text: true}, "name": {expr: "name", text: true},
	"role": {expr: "role"}, "active_product": {expr: "active_product"}, "organization_id": {expr: "organization_id", uuid: true},
	"created_at": {expr: "created_at"}, "last_sign_in_at": {expr: "last_sign_in_at"},
}

// ListUsers lists the users of the given organizations.
func (s *Store) ListUsers(ctx context.Context, orgIDs []string, opts vigil.ListOptions) ([]*vigil.User, int, error) {
	if len(orgIDs) == 0 {
		return nil, 0, nil
	}
	var rows []*userRow
	q := s.db.NewSelect().Model(&rows).Where("users.organization_id IN (?)", bun.In(orgIDs))
	users, n, err := listPage(ctx, s, q, &rows, "users", userColumns, vigil.UserList, opts)
	return users, n, err
}

// FindUserAnywhere returns a user of any organization.
func (s *Store) FindUserAnywhere(ctx context.Context, id string) (*vigil.User, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("user")
	}
	row := new(userRow)
	if err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "user")
	}
	return s.user(row)
}

// CountUsers counts an organization's users.
func (s *Store) CountUsers(ctx context.Context, orgID string) (int, error) {
	n, err := s.db.NewSelect().Model((*userRow)(nil)).Where("organization_id = ?", orgID).Count(ctx)
	return int(n), err
}

// CountAdmins counts the organization's confirmed admins.
func (s *Store) CountAdmins(ctx context.Context, orgID string) (int, error) {
	n, err := s.db.NewSelect().Model((*userRow)(nil)).
		Where("organization_id = ? AND role = ? AND confirmed_at IS NOT NULL", orgID, vigil.RoleAdmin).Count(ctx)
	return int(n), err
}

// UpdateUser changes the fields set in in. ECONFLICT-style field error if
// the new e-mail is taken.
func (s *Store) UpdateUser(ctx context.Context, orgID, id string, in vigil.UserUpdate) (*vigil.User, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("user")
	}
	row := new(userRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lock(tx.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID)).Scan(ctx); err != nil {
			return notFound(err, "user")
		}
		if in.Email != nil && *in.Email != row.Email {
			if n, err := tx.NewSelect().Model((*userRow)(nil)).Where("email = ? AND id <> ?", *in.Email, id).Count(ctx); err != nil {
				return err
			} else if n > 0 {
				return vigil.FieldError("user.email", "has already been taken")
			}
			row.Email = *in.Email
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&row.Name, in.Name)
		set(&row.Locale, in.Locale)
		set(&row.Timezone, in.Timezone)
		set(&row.PasswordHash, in.PasswordHash)
		set(&row.OTPPhone, in.OTPPhone)
		set(&row.OTPPending, in.OTPPendingPhone)
		set(&row.OTPDefault, in.OTPDefaultMethod)
		set(&row.SSOSubject, in.SSOSubject)
		if in.Role != nil {
			row.Role = string(*in.Role)
		}
		if in.ActiveProduct != nil {
			row.ActiveProduct = string(*in.ActiveProduct)
		}
		if in.ConfirmedAt != nil {
			row.ConfirmedAt = in.ConfirmedAt
		}
		if in.TOTPEnabled != nil {
			row.TOTPEnabled = *in.TOTPEnabled
		}
		if in.SMSEnabled != nil {
			row.SMSEnabled = *in.SMSEnabled
		}
		if in.OTPLastStep != nil {
			row.OTPLastStep = *in.OTPLastStep
		}
		if in.TOTPSecret != nil {
			row.TOTPSecret = nil
			if *in.TOTPSecret != "" {
				if s.opts.Sealer == nil {
					return errors.New("store: no sealer configured for 2FA secrets")
				}
				sealed, err := s.opts.Sealer.Seal([]byte(*in.TOTPSecret), []byte("user-otp:"+row.ID))
				if err != nil {
					return err
				}
				row.TOTPSecret = sealed
			}
		}
		row.UpdatedAt = s.now()
		_, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.user(row)
}

// UseTOTPStep records step as the last accepted TOTP step unless a later or
// equal one was accepted already: a code works once, even across replicas.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	var ok bool
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*userRow)(nil)).Set("otp_last_step = ?", step).
			Where("id = ? AND otp_last_step < ?", userID, step).Exec(ctx)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, err
}

// DeleteUser deletes a user; the resources it owned stay with the
// organization, without owner.
func (s *Store) DeleteUser(ctx context.Context, orgID, id string) error {
	if !vigil.IsUUID(id) {
		return vigil.NotFound("user")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return affected(ctx, tx.NewDelete().Model((*userRow)(nil)).Where("id = ? AND organization_id = ?", id, orgID), "user")
	})
}

var ownedTables = []string{"targets", "scans", "credentials", "port_lists"}

// OwnedResources counts what a user owns.
func (s *Store) OwnedResources(ctx context.Context, orgID, userID string) (vigil.ResourceCounts, error) {
	var c vigil.ResourceCounts
	dst := []*int{&c.Targets, &c.Scans, &c.Credentials, &c.PortLists}
	for i, t := range ownedTables {
		n, err := s.db.NewSelect().Table(t).Where("organization_id = ? AND owner_id = ?", orgID, userID).Count(ctx)
		if err != nil {
			return c, err
		}
		*dst[i] = int(n)
	}
	return c, nil
}

// TransferResources moves ownership of everything fromID owns to toID.
func (s *Store) TransferResources(ctx context.Context, orgID, fromID, toID string) (vigil.ResourceCounts, error) {
	var c vigil.ResourceCounts
	if !vigil.IsUUID(fromID) || !vigil.IsUUID(toID) {
		return c, vigil.NotFound("user")
	}
	dst := []*int{&c.Targets, &c.Scans, &c.Credentials, &c.PortLists}
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*userRow)(nil)).Where("id IN (?) AND organization_id = ?", bun.In([]string{fromID, toID}), orgID).Count(ctx)
		if err != nil {
			return err
		}
		if n != 2 && fromID != toID || n != 1 && fromID == toID {
			return vigil.NotFound("user")
		}
		for i, t := range ownedTables {
			res, err := tx.NewUpdate().Table(t).Set("owner_id = ?", toID).Where("organization_id = ? AND owner_id = ?", orgID, fromID).Exec(ctx)
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			*dst[i] = int(k)
		}
		return nil
	})
	return c, err
}

// MoveUser moves a user to another organization. Its tokens end, its group
// memberships (of the old organization) go, its resources stay behind.
func (s *Store) MoveUser(ctx context.Context, userID, toOrgID string) error {
	if !vigil.IsUUID(userID) || !vigil.IsUUID(toOrgID) {
		return vigil.NotFound("user")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if n, err := tx.NewSelect().Model((*organizationRow)(nil)).Where("id = ?", toOrgID).Count(ctx); err != nil {
			return err
		} else if n == 0 {
			return vigil.NotFound("organization")
		}
		if err := s.checkLimit(ctx, tx, toOrgID, vigil.FeatureUsers, "users", 1, func() (int64, error) {
			n, err := tx.NewSelect().Model((*userRow)(nil)).Where("organization_id = ?", toOrgID).Count(ctx)
			return int64(n), err
		}); err != nil {
			return err
		}
		for _, t := range ownedTables {
			if _, err := tx.NewUpdate().Table(t).Set("owner_id = NULL").Where("owner_id = ?", userID).Exec(ctx); err != nil {
				return err
			}
		}
		if _, err := tx.NewDelete().Table("group_members").Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*tokenRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		return affected(ctx, tx.NewUpdate().Model((*userRow)(nil)).Set("organization_id = ?", toOrgID).Set("updated_at = ?", s.now()).
			Where("id = ?", userID), "user")
	})
}

// SetSSAPIKey stores the hash of a user's SSAPI key ("" removes it).
func (s *Store) SetSSAPIKey(ctx context.Context, userID, hash string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var v any = hash
		if hash == "" {
			v = nil
		}
		_, err := tx.NewUpdate().Model((*userRow)(nil)).Set("ssapi_key_hash = ?", v).Where("id = ?", userID).Exec(ctx)
		return err
	})
}

// FindUserBySSAPIKey returns the confirmed user with this key hash.
func (s *Store) FindUserBySSAPIKey(ctx context.Context, hash string) (*vigil.User, error) {
	row := new(userRow)
	if err := s.db.NewSelect().Model(row).Where("ssapi_key_hash = ? AND confirmed_at IS NOT NULL", hash).Scan(ctx); err != nil {
		return nil, notFound(err, "user")
	}
	return s.user(row)
}

// ImportUsers creates all users or none.
func (s *Store) ImportUsers(ctx context.Context, orgID string, in []vigil.UserInput, hashes []string) ([]*vigil.User, error) {
	var out []*vigil.User
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		out = out[:0]
		for i := range in {
			row, err := s.insertUser(ctx, tx, orgID, in[i], hashes[i], "users["+itoa(i)+"]")
			if err != nil {
				return err
			}
			out = append(out, row.domain())
		}
		return nil
	})
	return out, err
}

func itoa(i int) string { return strconv.Itoa(i) }

// RevokeUserTokens revokes the user's live tokens of the kinds, but keepID.
func (s *Store) RevokeUserTokens(ctx context.Context, userID string, kinds []vigil.TokenKind, keepID string, at time.Time) error {
	ks := make([]string, len(kinds))
	for i, k := range kinds {
		ks[i] = string(k)
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", at).
			Where("user_id = ? AND revoked_at IS NULL AND kind IN (?)", userID, bun.In(ks))
		if keepID != "" {
			q = q.Where("id <> ?", keepID)
		}
		_, err := q.Exec(ctx)
		return err
	})
}

// ListTokens lists a user's live tokens of a kind, newest first.
func (s *Store) ListTokens(ctx context.Context, userID string, kind vigil.TokenKind) ([]*vigil.Token, error) {
	var rows []*tokenRow
	err := s.db.NewSelect().Model(&rows).Where("user_id = ? AND kind = ? AND revoked_at IS NULL", userID, kind).
		Where("expires_at IS NULL OR expires_at > ?", s.now()).OrderExpr("created_at DESC").Limit(1000).Scan(ctx)
	return domains(rows), err
}

type userTokenRow struct {
	bun.BaseModel  `bun:"table:user_tokens"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id,nullzero"`
	UserID         string     `bun:"user_id,nullzero"`
	Purpose        string     `bun:"purpose"`
	TokenHash      string     `bun:"token_hash"`
	Data           string     `bun:"data"`
	Attempts       int        `bun:"attempts"`
	CreatedAt      time.Time  `bun:"created_at"`
	ExpiresAt      time.Time  `bun:"expires_at"`
	UsedAt         *time.Time `bun:"used_at"`
}

func (r *userTokenRow) domain() *vigil.UserToken {
	return &vigil.UserToken{ID: r.ID, OrganizationID: r.OrganizationID, UserID: r.UserID, Purpose: r.Purpose, TokenHash: r.TokenHash,
		Data: r.Data, Attempts: r.Attempts, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, UsedAt: r.UsedAt}
}

// CreateUserToken stores a single-use token (its hash).
func (s *Store) CreateUserToken(ctx context.Context, t *vigil.UserToken) error {
	if t.ID == "" {
		t.ID = vigil.NewID()
	}
	t.CreatedAt = s.now()
	row := &userTokenRow{ID: t.ID, OrganizationID: t.OrganizationID, UserID: t.UserID, Purpose: t.Purpose, TokenHash: t.TokenHash,
		Data: t.Data, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt.UTC()}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
}

// FindUserToken returns a live token of the purpose, or ENOTFOUND.
func (s *Store) FindUserToken(ctx context.Context, purpose, hash string, now time.Time) (*vigil.UserToken, error) {
	row := new(userTokenRow)
	err := s.db.NewSelect().Model(row).Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now.UTC()).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "token")
	}
	return row.domain(), nil
}

// ConsumeUserToken marks a live token used and returns it; a second
// consumer (another request, another replica) gets ENOTFOUND.
func (s *Store) ConsumeUserToken(ctx context.Context, purpose, hash string, now time.Time) (*vigil.UserToken, error) {
	row := new(userTokenRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(row).Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", hash, purpose, now.UTC()).
			Scan(ctx); err != nil {
			return notFound(err, "token")
		}
		res, err := tx.NewUpdate().Model((*userTokenRow)(nil)).Set("used_at = ?", now.UTC()).Where("id = ? AND used_at IS NULL", row.ID).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return vigil.NotFound("token")
		}
		t := now.UTC()
		row.UsedAt = &t
		return nil
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// CountUserTokenAttempt adds one failed attempt to a token.
func (s *Store) CountUserTokenAttempt(ctx context.Context, id string) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model((*userTokenRow)(nil)).Set("attempts = attempts + 1").Where("id = ?", id).Exec(ctx); err != nil {
			return err
		}
		return tx.NewSelect().Model((*userTokenRow)(nil)).Column("attempts").Where("id = ?", id).Scan(ctx, &n)
	})
	return n, err
}

// ExpireUserTokens ends a user's live tokens of a purpose.
func (s *Store) ExpireUserTokens(ctx context.Context, userID, purpose string, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*userTokenRow)(nil)).Set("used_at = ?", now.UTC()).
			Where("user_id = ? AND purpose = ? AND used_at IS NULL", userID, purpose).Exec(ctx)
		return err
	})
}

type recoveryCodeRow struct {
	bun.BaseModel `bun:"table:recovery_codes"`
	ID            string     `bun:"id,pk"`
	UserID        string     `bun:"user_id"`
	CodeHash      string     `bun:"code_hash"`
	CreatedAt     time.Time  `bun:"created_at"`
	UsedAt        *time.Time `bun:"used_at"`
}

// ReplaceRecoveryCodes voids the old codes and stores the new hashes.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string) error {
	now := s.now()
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewDelete().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		rows := make([]*recoveryCodeRow, len(hashes))
		for i, h := range hashes {
			rows[i] = &recoveryCodeRow{ID: vigil.NewID(), UserID: userID, CodeHash: h, CreatedAt: now}
		}
		_, err := tx.NewInsert().Model(&rows).Exec(ctx)
		return err
	})
}

// UseRecoveryCode consumes a code once.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*recoveryCodeRow)(nil)).Set("used_at = ?", now.UTC()).
			Where("user_id = ? AND code_hash = ? AND used_at IS NULL", userID, hash).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return vigil.NotFound("recovery code")
		}
		return nil
	})
}

// CountRecoveryCodes counts the unused codes.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	n, err := s.db.NewSelect().Model((*recoveryCodeRow)(nil)).Where("user_id = ? AND used_at IS NULL", userID).Count(ctx)
	return int(n), err
}

// lock adds FOR UPDATE on PostgreSQL (SQLite has a single writer).
func (s *Store) lock(q *bun.SelectQuery) *bun.SelectQuery {
	if s.dialect == Postgres {
		return q.For("UPDATE")
	}
	return q
}

// affected runs an update or delete and reports ENOTFOUND (as what) when it
// touched no row.
func affected(ctx context.Context, q interface {
	Exec(ctx context.Context, dest ...any) (sql.Result, error)
}, what string) error {
	res, err := q.Exec(ctx)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return vigil.NotFound(what)
	}
	return nil
}

// isNoRows reports sql.ErrNoRows.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
