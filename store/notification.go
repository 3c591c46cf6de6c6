package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type notificationRow struct {
	bun.BaseModel  `bun:"table:notifications,alias:nt"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	UserID         string     `bun:"user_id"`
	EventID        string     `bun:"event_id"`
	Type           string     `bun:"type"`
	Event          string     `bun:"event"`
	Title          string     `bun:"title"`
	Message        string     `bun:"message"`
	ResourceType   string     `bun:"resource_type"`
	ResourceID     string     `bun:"resource_id"`
	Data           string     `bun:"data"`
	ReadAt         *time.Time `bun:"read_at"`
	SeenAt         *time.Time `bun:"seen_at"`
	EmailPending   bool       `bun:"email_pending"`
	CreatedAt      time.Time  `bun:"created_at"`
}

func (r *notificationRow) domain() *vigil.Notification {
	n := &vigil.Notification{ID: r.ID, OrganizationID: r.OrganizationID, UserID: r.UserID, EventID: r.EventID, Type: r.Type,
		Event: r.Event, Title: r.Title, Message: r.Message, ResourceType: r.ResourceType, ResourceID: r.ResourceID,
		ReadAt: r.ReadAt, SeenAt: r.SeenAt, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal([]byte(r.Data), &n.Data)
	return n
}

var notificationColumns = map[string]column{
	"notification_type": {expr: "type"}, "event": {expr: "event"}, "resource_id": {expr: "resource_id"},
	"title": {expr: "title", text: true}, "created_at": {expr: "created_at"},
	"read": {expr: "read_at"}, "seen": {expr: "seen_at"},
}

// FindNotifications lists a user's notifications.
func (s *Store) FindNotifications(ctx context.Context, orgID, userID string, opts vigil.ListOptions) ([]*vigil.Notification, int, error) {
	var rows []*notificationRow
	q := s.db.NewSelect().Model(&rows).Where("nt.organization_id = ? AND nt.user_id = ?", orgID, userID)
	// read/seen filter on whether the time is set, which the generic
	// boolean filter cannot express.
	var rest []vigil.Filter
	for _, f := range opts.Filters {
		if f.Column != "read" && f.Column != "seen" {
			rest = append(rest, f)
			continue
		}
		b, ok := parseBool(f.Value)
		if !ok {
			return nil, 0, vigil.FieldError("q["+f.Column+"]", "must be true or false, got %q", f.Value)
		}
		cond := "nt." + notificationColumns[f.Column].expr + " IS NULL"
		if b {
			cond = "nt." + notificationColumns[f.Column].expr + " IS NOT NULL"
		}
		q = q.Where(cond)
	}
	opts.Filters = rest
	return listPage(ctx, s, q, &rows, "nt", notificationColumns, vigil.NotificationList, opts)
}

// CountNotifications counts a user's unread and unseen notifications.
func (s *Store) CountNotifications(ctx context.Context, orgID, userID string) (vigil.NotificationCounts, error) {
	var c vigil.NotificationCounts
	var err error
	base := func() *bun.SelectQuery {
		return s.db.NewSelect().Model((*notificationRow)(nil)).Where("nt.organization_id = ? AND nt.user_id = ?", orgID, userID)
	}
	var n int64
	if n, err = base().Where("nt.read_at IS NULL").Count(ctx); err != nil {
		return c, err
	}
	c.Unread = int(n)
	n, err = base().Where("nt.seen_at IS NULL").Count(ctx)
	c.Unseen = int(n)
	return c, err
}

// FindNotificationByID returns one of the user's notifications.
func (s *Store) FindNotificationByID(ctx context.Context, orgID, userID, id string) (*vigil.Notification, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("notification")
	}
	row := new(notificationRow)
	if err := s.db.NewSelect().Model(row).Where("nt.id = ? AND nt.organization_id = ? AND nt.user_id = ?", id, orgID, userID).
		Scan(ctx); err != nil {
		return nil, notFound(err, "notification")
	}
	return row.domain(), nil
}

// DeleteNotification deletes one of the user's notifications.
func (s *Store) DeleteNotification(ctx context.Context, orgID, userID, id string) error {
	if !vigil.IsUUID(id) {
		return vigil.NotFound("notification")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return affected(ctx, tx.NewDelete().Model((*notificationRow)(nil)).
			Where("id = ? AND organization_id = ? AND user_id = ?", id, orgID, userID), "notification")
	})
}

// MarkNotifications marks id (or every notification, id "") read or seen.
// Reading implies seeing. Marks already set keep their time.
func (s *Store) MarkNotifications(ctx context.Context, orgID, userID, id string, read bool) (int, error) {
	if id != "" && !vigil.IsUUID(id) {
		return 0, vigil.NotFound("notification")
	}
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		now := s.now()
		q := tx.NewUpdate().Model((*notificationRow)(nil)).Where("organization_id = ? AND user_id = ?", orgID, userID).
			Set("seen_at = COALESCE(seen_at, ?)", now)
		if read {
			q = q.Set("read_at = COALESCE(read_at, ?)", now)
		}
		if id != "" {
			q = q.Where("id = ?", id)
		} else if read {
			q = q.Where("read_at IS NULL")
		} else {
			q = q.Where("seen_at IS NULL")
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return err
		}
		n = rowsAffected(res)
		if id != "" && n == 0 {
			return vigil.NotFound("notification")
		}
		return nil
	})
	return n, err
}

// PendingNotificationEmails returns notifications whose e-mail was not
// queued yet, created before cutoff (a dispatcher that died between its
// commit and the queueing leaves them).
func (s *Store) PendingNotificationEmails(ctx context.Context, ids []string, cutoff time.Time, limit int) ([]*vigil.NotificationEmail, error) {
	var rows []struct {
		notificationRow `bun:",extend"`
		Email           string `bun:"email"`
		Name            string `bun:"name"`
	}
	q := s.db.NewSelect().Model((*notificationRow)(nil)).ColumnExpr("nt.*, u.email, u.name").
		Join("JOIN users AS u ON u.id = nt.user_id").Where("nt.email_pending").OrderExpr("nt.created_at").Limit(int64(limit))
	if ids != nil {
		if len(ids) == 0 {
			return nil, nil
		}
		q = q.Where("nt.id IN (?)", bun.In(ids))
	} else {
		q = q.Where("nt.created_at < ?", cutoff)
	}
	if err := q.Scan(ctx, &rows); err != nil {
		return nil, err
	}
	out := make([]*vigil.NotificationEmail, len(rows))
	for i := range rows {
		out[i] = &vigil.NotificationEmail{Notification: rows[i].notificationRow.domain(), Email: rows[i].Email, Name: rows[i].Name}
	}
	return out, nil
}

// NotificationEmailed clears the pending e-mail mark of id.
func (s *Store) NotificationEmailed(ctx context.Context, id string) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewUpdate().Model((*notificationRow)(nil)).Set("email_pending = ?", false).Where("id = ?", id).Exec(ctx)
		return err
	})
}

var _ vigil.NotificationService = (*Store)(nil)
