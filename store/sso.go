package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type oidcProviderRow struct {
	bun.BaseModel  `bun:"table:oidc_providers"`
	OrganizationID string    `bun:"organization_id,pk"`
	Issuer         string    `bun:"issuer"`
	ClientID       string    `bun:"client_id"`
	ClientSecret   []byte    `bun:"client_secret"`
	GroupsClaim    string    `bun:"groups_claim"`
	Enabled        bool      `bun:"enabled"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func oidcAAD(orgID string) []byte { return []byte("oidc-client-secret:" + orgID) }

// SetOIDCProvider upserts an organization's provider, sealing the secret.
func (s *Store) SetOIDCProvider(ctx context.Context, p *vigil.OIDCProvider) error {
	if s.opts.Sealer == nil {
		return vigil.Errorf(vigil.EINTERNAL, "store: no sealer configured")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := &oidcProviderRow{OrganizationID: p.OrganizationID, Issuer: p.Issuer, ClientID: p.ClientID, GroupsClaim: p.GroupsClaim,
			Enabled: p.Enabled, UpdatedAt: s.now()}
		if p.ClientSecret != "" {
			sealed, err := s.opts.Sealer.Seal([]byte(p.ClientSecret), oidcAAD(p.OrganizationID))
			if err != nil {
				return err
			}
			row.ClientSecret = sealed
		} else {
			old := new(oidcProviderRow)
			err := tx.NewSelect().Model(old).Where("organization_id = ?", p.OrganizationID).Scan(ctx)
			if err != nil && !isNoRows(err) {
				return err
			}
			row.ClientSecret = old.ClientSecret
		}
		_, err := tx.NewInsert().Model(row).On("CONFLICT (organization_id) DO UPDATE").
			Set("issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id, client_secret = EXCLUDED.client_secret").
			Set("groups_claim = EXCLUDED.groups_claim, enabled = EXCLUDED.enabled, updated_at = EXCLUDED.updated_at").Exec(ctx)
		return err
	})
}

// FindOIDCProvider returns orgID's provider with the secret opened.
func (s *Store) FindOIDCProvider(ctx context.Context, orgID string) (*vigil.OIDCProvider, error) {
	if !vigil.IsUUID(orgID) {
		return nil, vigil.NotFound("SSO provider")
	}
	row := new(oidcProviderRow)
	if err := s.db.NewSelect().Model(row).Where("organization_id = ?", orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "SSO provider")
	}
	p := &vigil.OIDCProvider{OrganizationID: row.OrganizationID, Issuer: row.Issuer, ClientID: row.ClientID, GroupsClaim: row.GroupsClaim,
		Enabled: row.Enabled, UpdatedAt: row.UpdatedAt}
	if len(row.ClientSecret) > 0 {
		if s.opts.Sealer == nil {
			return nil, vigil.Errorf(vigil.EINTERNAL, "store: no sealer configured")
		}
		secret, err := s.opts.Sealer.Open(row.ClientSecret, oidcAAD(orgID))
		if err != nil {
			return nil, err
		}
		p.ClientSecret = string(secret)
	}
	return p, nil
}

// DeleteOIDCProvider removes orgID's provider.
func (s *Store) DeleteOIDCProvider(ctx context.Context, orgID string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return affected(ctx, tx.NewDelete().Model((*oidcProviderRow)(nil)).Where("organization_id = ?", orgID), "SSO provider")
	})
}

var _ vigil.SSOService = (*Store)(nil)
