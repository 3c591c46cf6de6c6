package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type preferenceRow struct {
	bun.BaseModel  `bun:"table:notification_preferences,alias:np"`
	ID             string    `bun:"id,pk"`
	OrganizationID string    `bun:"organization_id"`
	UserID         string    `bun:"user_id"`
	Name           string    `bun:"name"`
	Enabled        bool      `bun:"enabled"`
	Email          bool      `bun:"email"`
	Params         string    `bun:"params"`
	CreatedAt      time.Time `bun:"created_at"`
	UpdatedAt      time.Time `bun:"updated_at"`
}

func (r *preferenceRow) domain() *vigil.NotificationPreference {
	p := &vigil.NotificationPreference{ID: r.ID, OrganizationID: r.OrganizationID, UserID: r.UserID, Name: r.Name, Enabled: r.Enabled, Email: r.Email,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	_ = json.Unmarshal([]byte(r.Params), &p.Params)
	return p
}

// NotificationPreferences returns the user's preferences, defaults filled in.
func (s *Store) NotificationPreferences(ctx context.Context, orgID, userID string) ([]*vigil.NotificationPreference, error) {
	var rows []*preferenceRow
	if err := s.db.NewSelect().Model(&rows).Where("organization_id = ? AND user_id = ?", orgID, userID).Scan(ctx); err != nil {
		return nil, err
	}
	byName := map[string]*preferenceRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	out := make([]*vigil.NotificationPreference, len(vigil.NotificationEvents))
	for i, n := range vigil.NotificationEvents {
		if r := byName[n]; r != nil {
			out[i] = r.domain()
		} else {
			out[i] = &vigil.NotificationPreference{OrganizationID: orgID, UserID: userID, Name: n, Enabled: true}
		}
	}
	return out, nil
}

// SetNotificationPreference upserts one preference.
func (s *Store) SetNotificationPreference(ctx context.Context, orgID, userID, name string, enabled, email *bool, params *vigil.NotificationParams) (*vigil.NotificationPreference, error) {
	if !vigil.ValidNotificationEvent(name) {
		return nil, vigil.NotFound("notification preference")
	}
	row := new(preferenceRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		now := s.now()
		err := s.lock(tx.NewSelect().Model(row).Where("organization_id = ? AND user_id = ? AND name = ?", orgID, userID, name)).Scan(ctx)
		insert := isNoRows(err)
		if err != nil && !insert {
			return err
		}
		if insert {
			row = &preferenceRow{ID: vigil.NewID(), OrganizationID: orgID, UserID: userID, Name: name, Enabled: true, Params: "{}", CreatedAt: now}
		}
		if enabled != nil {
			row.Enabled = *enabled
		}
		if email != nil {
			row.Email = *email
		}
		if params != nil {
			b, err := json.Marshal(params)
			if err != nil {
				return err
			}
			row.Params = string(b)
		}
		row.UpdatedAt = now
		if insert {
			_, err = tx.NewInsert().Model(row).Exec(ctx)
		} else {
			_, err = tx.NewUpdate().Model(row).Column("enabled", "email", "params", "updated_at").WherePK().Exec(ctx)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}
