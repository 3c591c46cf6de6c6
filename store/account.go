package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type organizationRow struct {
	bun.BaseModel `bun:"table:organizations,alias:organizations"`
	ID            string    `bun:"id,pk"`
	Name          string    `bun:"name"`
	PartnerID     string    `bun:"partner_id,nullzero"`
	IsPartner     bool      `bun:"is_partner"`
	CreatedAt     time.Time `bun:"created_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

func (r *organizationRow) domain() *vigil.Organization {
	return &vigil.Organization{ID: r.ID, Name: r.Name, PartnerID: r.PartnerID, IsPartner: r.IsPartner, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// CreateOrganization creates an organization with its built-in port lists,
// scan profiles and local scanner. The installation's first organization is
// the operator (a partner without partner); the others stand alone.
func (s *Store) CreateOrganization(ctx context.Context, name string) (*vigil.Organization, error) {
	if name == "" || len(name) > vigil.MaxNameLen {
		return nil, vigil.FieldError("organization.name", "must be 1 to %d characters", vigil.MaxNameLen)
	}
	var row *organizationRow
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Model((*organizationRow)(nil)).Count(ctx)
		if err != nil {
			return err
		}
		row, err = s.insertOrganization(ctx, tx, name, "", n == 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) insertOrganization(ctx context.Context, tx bun.Tx, name, partnerID string, partner bool) (*organizationRow, error) {
	now := s.now()
	row := &organizationRow{ID: vigil.NewID(), Name: name, PartnerID: partnerID, IsPartner: partner, CreatedAt: now, UpdatedAt: now}
	if _, err := tx.NewInsert().Model(row).Exec(ctx); err != nil {
		return nil, err
	}
	if _, err := s.syncBuiltinPortLists(ctx, tx, row.ID); err != nil {
		return nil, err
	}
	return row, s.syncScanDefaults(ctx, tx, row.ID)
}

// FindOrganizationByID returns ENOTFOUND if there is no such organization.
func (s *Store) FindOrganizationByID(ctx context.Context, id string) (*vigil.Organization, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("organization")
	}
	row := new(organizationRow)
	if err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "organization")
	}
	return row.domain(), nil
}

// FindOrganizationsByIDs returns the organizations with these ids, by id.
func (s *Store) FindOrganizationsByIDs(ctx context.Context, ids []string) (map[string]*vigil.Organization, error) {
	out := map[string]*vigil.Organization{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []*organizationRow
	if err := s.db.NewSelect().Model(&rows).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.ID] = r.domain()
	}
	return out, nil
}

// CountOrganizations counts every organization of the installation.
func (s *Store) CountOrganizations(ctx context.Context) (int, error) {
	n, err := s.db.NewSelect().Model((*organizationRow)(nil)).Count(ctx)
	return int(n), err
}

type userRow struct {
	bun.BaseModel  `bun:"table:users,alias:users"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	Email          string     `bun:"email"`
	Name           string     `bun:"name"`
	Role           string     `bun:"role"`
	Locale         string     `bun:"locale"`
	Timezone       string     `bun:"timezone"`
	PasswordHash   string     `bun:"password_hash"`
	SignInCount    int        `bun:"sign_in_count"`
	LastSignInAt   *time.Time `bun:"last_sign_in_at"`
	LastSignInIP   string     `bun:"last_sign_in_ip"`
	ConfirmedAt    *time.Time `bun:"confirmed_at"`
	InvitedAt      *time.Time `bun:"invited_at"`
	ActiveProduct  string     `bun:"active_product"`
	TOTPSecret     []byte     `bun:"otp_totp_secret"`
	TOTPEnabled    bool       `bun:"otp_totp_enabled"`
	OTPLastStep    int64      `bun:"otp_last_step"`
	SMSEnabled     bool       `bun:"otp_sms_enabled"`
	OTPPhone       string     `bun:"otp_phone"`
	OTPPending     string     `bun:"otp_pending_phone"`
	OTPDefault     string     `bun:"otp_default_method"`
	SSAPIKeyHash   string     `bun:"ssapi_key_hash,nullzero"`
	SSOSubject     string     `bun:"sso_subject"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
}

func (r *userRow) domain() *vigil.User {
	return &vigil.User{ID: r.ID, OrganizationID: r.OrganizationID, Email: r.Email, Name: r.Name, Role: vigil.Role(r.Role),
		Locale: r.Locale, Timezone: r.Timezone, PasswordHash: r.PasswordHash, SignInCount: r.SignInCount,
		LastSignInAt: r.LastSignInAt, LastSignInIP: r.LastSignInIP, ConfirmedAt: r.ConfirmedAt, InvitedAt: r.InvitedAt,
		ActiveProduct: vigil.Product(r.ActiveProduct), TOTPEnabled: r.TOTPEnabled, OTPLastStep: r.OTPLastStep,
		SMSEnabled: r.SMSEnabled, OTPPhone: r.OTPPhone, OTPPendingPhone: r.OTPPending, OTPDefaultMethod: r.OTPDefault,
		SSOSubject: r.SSOSubject, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// user converts a row, opening the sealed TOTP secret.
func (s *Store) user(r *userRow) (*vigil.User, error) {
	u := r.domain()
	if len(r.TOTPSecret) > 0 {
		if s.opts.Sealer == nil {
			return nil, errors.New("store: no sealer configured for 2FA secrets")
		}
		pt, err := s.opts.Sealer.Open(r.TOTPSecret, []byte("user-otp:"+r.ID))
		if err != nil {
			return nil, err
		}
		u.TOTPSecret = string(pt)
	}
	return u, nil
}

// CreateUser adds a user to orgID. in must be validated; passwordHash is the
// argon2id hash of in.Password. ECONFLICT if the e-mail is taken.
func (s *Store) CreateUser(ctx context.Context, orgID string, in vigil.UserInput, passwordHash string) (*vigil.User, error) {
	var row *userRow
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) (err error) {
		row, err = s.insertUser(ctx, tx, orgID, in, passwordHash, "user")
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// insertUser adds a user inside tx, within the organization's user limit.
// field prefixes the e-mail error ("user", or "users[3]" for imports).
func (s *Store) insertUser(ctx context.Context, tx bun.Tx, orgID string, in vigil.UserInput, passwordHash, field string) (*userRow, error) {
	now := s.now()
	row := &userRow{ID: vigil.NewID(), OrganizationID: orgID, Email: in.Email, Name: in.Name, Role: string(in.Role),
		Locale: in.Locale, Timezone: in.Timezone, PasswordHash: passwordHash, ActiveProduct: string(in.Product),
		CreatedAt: now, UpdatedAt: now}
	if row.ActiveProduct == "" {
		row.ActiveProduct = string(vigil.ProductVRMS)
	}
	if !in.Unconfirmed && !in.Invited {
		row.ConfirmedAt = &now
	}
	if in.Invited {
		row.InvitedAt = &now
	}
	if n, err := tx.NewSelect().Model((*organizationRow)(nil)).Where("id = ?", orgID).Count(ctx); err != nil {
		return nil, err
	} else if n == 0 {
		return nil, vigil.NotFound("organization")
	}
	if n, err := tx.NewSelect().Model((*userRow)(nil)).Where("email = ?", in.Email).Count(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, vigil.FieldError(field+".email", "has already been taken")
	}
	if err := s.checkLimit(ctx, tx, orgID, vigil.FeatureUsers, "users", 1, func() (int64, error) {
		n, err := tx.NewSelect().Model((*userRow)(nil)).Where("organization_id = ?", orgID).Count(ctx)
		return int64(n), err
	}); err != nil {
		return nil, err
	}
	_, err := tx.NewInsert().Model(row).Exec(ctx)
	return row, err
}

// FindUserByID returns ENOTFOUND unless the user exists in orgID.
func (s *Store) FindUserByID(ctx context.Context, orgID, id string) (*vigil.User, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("user")
	}
	row := new(userRow)
	if err := s.db.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "user")
	}
	return s.user(row)
}

// FindUserByEmail looks across organizations (sign-in comes before scoping).
func (s *Store) FindUserByEmail(ctx context.Context, email string) (*vigil.User, error) {
	row := new(userRow)
	if err := s.db.NewSelect().Model(row).Where("email = ?", email).Scan(ctx); err != nil {
		return nil, notFound(err, "user")
	}
	return s.user(row)
}

// RecordSignIn counts a successful sign-in.
func (s *Store) RecordSignIn(ctx context.Context, userID, ip string, at time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*userRow)(nil)).
			Set("sign_in_count = sign_in_count + 1").Set("last_sign_in_at = ?", at).Set("last_sign_in_ip = ?", ip).
			Where("id = ?", userID).Exec(ctx)
		return err
	})
}

type apiKeyRow struct {
	bun.BaseModel  `bun:"table:api_keys"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	Name           string     `bun:"name"`
	Prefix         string     `bun:"prefix"`
	KeyHash        string     `bun:"key_hash"`
	CreatedBy      string     `bun:"created_by,nullzero"`
	CreatedAt      time.Time  `bun:"created_at"`
	LastUsedAt     *time.Time `bun:"last_used_at"`
	RevokedAt      *time.Time `bun:"revoked_at"`
}

// CreateAPIKey stores k (its hash, never the key).
func (s *Store) CreateAPIKey(ctx context.Context, k *vigil.APIKey) error {
	if k.ID == "" {
		k.ID = vigil.NewID()
	}
	k.CreatedAt = s.now()
	row := &apiKeyRow{ID: k.ID, OrganizationID: k.OrganizationID, Name: k.Name, Prefix: k.Prefix, KeyHash: k.KeyHash,
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
}

// FindAPIKeyByHash returns the live key with this hash, or ENOTFOUND.
func (s *Store) FindAPIKeyByHash(ctx context.Context, hash string) (*vigil.APIKey, error) {
	row := new(apiKeyRow)
	err := s.db.NewSelect().Model(row).Where("key_hash = ? AND revoked_at IS NULL", hash).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "API key")
	}
	return &vigil.APIKey{ID: row.ID, OrganizationID: row.OrganizationID, Name: row.Name, Prefix: row.Prefix,
		KeyHash: row.KeyHash, CreatedBy: row.CreatedBy, CreatedAt: row.CreatedAt, LastUsedAt: row.LastUsedAt}, nil
}

type tokenRow struct {
	bun.BaseModel  `bun:"table:tokens"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	UserID         string     `bun:"user_id"`
	Kind           string     `bun:"kind"`
	TokenHash      string     `bun:"token_hash"`
	Name           string     `bun:"name"`
	ImpersonatorID string     `bun:"impersonator_id,nullzero"`
	ParentTokenID  string     `bun:"parent_token_id,nullzero"`
	IP             string     `bun:"ip"`
	UserAgent      string     `bun:"user_agent"`
	CreatedAt      time.Time  `bun:"created_at"`
	ExpiresAt      *time.Time `bun:"expires_at"`
	LastUsedAt     *time.Time `bun:"last_used_at"`
	RevokedAt      *time.Time `bun:"revoked_at"`
}

// CreateToken stores a bearer token row (its hash).
func (s *Store) CreateToken(ctx context.Context, t *vigil.Token) error {
	if t.ID == "" {
		t.ID = vigil.NewID()
	}
	t.CreatedAt = s.now()
	row := &tokenRow{ID: t.ID, OrganizationID: t.OrganizationID, UserID: t.UserID, Kind: string(t.Kind), TokenHash: t.TokenHash,
		Name: t.Name, ImpersonatorID: t.ImpersonatorID, ParentTokenID: t.ParentTokenID,
		IP: t.IP, UserAgent: t.UserAgent, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
}

// FindTokenByHash returns a live token (not revoked, not expired at now).
func (s *Store) FindTokenByHash(ctx context.Context, hash string, now time.Time) (*vigil.Token, error) {
	row := new(tokenRow)
	err := s.db.NewSelect().Model(row).
		Where("token_hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)", hash, now).Scan(ctx)
	if err != nil {
		return nil, notFound(err, "token")
	}
	return row.domain(), nil
}

func (row *tokenRow) domain() *vigil.Token {
	return &vigil.Token{ID: row.ID, OrganizationID: row.OrganizationID, UserID: row.UserID, Kind: vigil.TokenKind(row.Kind),
		TokenHash: row.TokenHash, Name: row.Name, ImpersonatorID: row.ImpersonatorID, ParentTokenID: row.ParentTokenID,
		IP: row.IP, UserAgent: row.UserAgent, CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt,
		LastUsedAt: row.LastUsedAt, RevokedAt: row.RevokedAt}
}

// RevokeToken ends a token; revoking twice is not an error.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", at).
			Where("id = ? AND revoked_at IS NULL", id).Exec(ctx)
		return err
	})
}

// DeleteExpiredTokens removes tokens that expired or were revoked before cutoff.
func (s *Store) DeleteExpiredTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*tokenRow)(nil)).
			Where("expires_at < ? OR revoked_at < ?", cutoff, cutoff).Exec(ctx)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		return err
	})
	return n, err
}

type authFailureRow struct {
	bun.BaseModel `bun:"table:auth_failures"`
	Key           string     `bun:"key,pk"`
	Count         int        `bun:"count"`
	WindowStart   time.Time  `bun:"window_start"`
	BlockedUntil  *time.Time `bun:"blocked_until"`
}

// AuthBlockedUntil returns when key may try again; zero if it is not blocked.
func (s *Store) AuthBlockedUntil(ctx context.Context, key string, now time.Time) (time.Time, error) {
	row := new(authFailureRow)
	err := s.db.NewSelect().Model(row).Where("key = ?", key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, err
	}
	if row.BlockedUntil != nil && row.BlockedUntil.After(now) {
		return *row.BlockedUntil, nil
	}
	return time.Time{}, nil
}

// RecordAuthFailure counts a failure for key inside a fixed window and blocks
// key for lockout when max is reached. It returns the block end, if any.
func (s *Store) RecordAuthFailure(ctx context.Context, key string, now time.Time, window time.Duration, max int, lockout time.Duration) (time.Time, error) {
	var until time.Time
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := new(authFailureRow)
		err := tx.NewSelect().Model(row).Where("key = ?", key).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			row = &authFailureRow{Key: key, WindowStart: now}
		} else if err != nil {
			return err
		}
		if now.Sub(row.WindowStart) > window || (row.BlockedUntil != nil && !row.BlockedUntil.After(now)) {
			row.Count, row.WindowStart, row.BlockedUntil = 0, now, nil
		}
		row.Count++
		if row.Count >= max {
			t := now.Add(lockout)
			row.BlockedUntil, until = &t, t
		}
		_, err = tx.NewInsert().Model(row).
			On("CONFLICT (key) DO UPDATE").
			Set("count = EXCLUDED.count, window_start = EXCLUDED.window_start, blocked_until = EXCLUDED.blocked_until").
			Exec(ctx)
		return err
	})
	return until, err
}

// ResetAuthFailures clears key after a successful sign-in.
func (s *Store) ResetAuthFailures(ctx context.Context, key string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewDelete().Model((*authFailureRow)(nil)).Where("key = ?", key).Exec(ctx)
		return err
	})
}

// notFound turns sql.ErrNoRows into ENOTFOUND for what.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return vigil.NotFound(what)
	}
	return err
}

var (
	_ vigil.AccountService = (*Store)(nil)
	_ vigil.AuthLimiter    = (*Store)(nil)
)

// OnlyOrganizationID returns the id of the single organization, for tools
// that default to it; EINVALID when there are none or several.
func (s *Store) OnlyOrganizationID(ctx context.Context) (string, error) {
	var ids []string
	if err := s.db.NewSelect().Model((*organizationRow)(nil)).Column("id").Limit(2).Scan(ctx, &ids); err != nil {
		return "", err
	}
	if len(ids) != 1 {
		return "", vigil.FieldError("organization", "there are %d organizations; name one with --organization", len(ids))
	}
	return ids[0], nil
}
