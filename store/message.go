package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type messageRow struct {
	bun.BaseModel  `bun:"table:messages"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id,nullzero"`
	UserID         string     `bun:"user_id,nullzero"`
	Channel        string     `bun:"channel"`
	Template       string     `bun:"template"`
	Recipient      string     `bun:"recipient"`
	Subject        string     `bun:"subject"`
	BodyText       string     `bun:"body_text"`
	BodyHTML       string     `bun:"body_html"`
	Status         string     `bun:"status"`
	Attempts       int        `bun:"attempts"`
	LastError      string     `bun:"last_error"`
	ProviderID     string     `bun:"provider_id"`
	CreatedAt      time.Time  `bun:"created_at"`
	SentAt         *time.Time `bun:"sent_at"`
}

func (r *messageRow) domain() *vigil.Message {
	return &vigil.Message{ID: r.ID, OrganizationID: r.OrganizationID, UserID: r.UserID, Channel: r.Channel, Template: r.Template,
		Recipient: r.Recipient, Subject: r.Subject, BodyText: r.BodyText, BodyHTML: r.BodyHTML, Status: r.Status,
		Attempts: r.Attempts, LastError: r.LastError, ProviderID: r.ProviderID, CreatedAt: r.CreatedAt, SentAt: r.SentAt}
}

// CreateMessage stores a rendered message, queued.
func (s *Store) CreateMessage(ctx context.Context, m *vigil.Message) error {
	if m.ID == "" {
		m.ID = vigil.NewID()
	}
	m.CreatedAt, m.Status = s.now(), vigil.MessageQueued
	row := &messageRow{ID: m.ID, OrganizationID: m.OrganizationID, UserID: m.UserID, Channel: m.Channel, Template: m.Template,
		Recipient: m.Recipient, Subject: m.Subject, BodyText: m.BodyText, BodyHTML: m.BodyHTML, Status: m.Status, CreatedAt: m.CreatedAt}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
}

// FindMessage returns a message by id.
func (s *Store) FindMessage(ctx context.Context, id string) (*vigil.Message, error) {
	row := new(messageRow)
	if err := s.db.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
		return nil, notFound(err, "message")
	}
	return row.domain(), nil
}

// MarkMessage records one delivery attempt.
func (s *Store) MarkMessage(ctx context.Context, id, status, providerID, lastError string, at time.Time) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewUpdate().Model((*messageRow)(nil)).Set("status = ?", status).Set("attempts = attempts + 1").
			Set("last_error = ?", truncateText(lastError, 1000)).Where("id = ?", id)
		if providerID != "" {
			q = q.Set("provider_id = ?", providerID)
		}
		if status == vigil.MessageSent || status == vigil.MessageStored {
			q = q.Set("sent_at = ?", at.UTC())
		}
		_, err := q.Exec(ctx)
		return err
	})
}

// StoredMessages lists the SMS outbox (messages kept, not sent) created
// since since, newest first.
func (s *Store) StoredMessages(ctx context.Context, since time.Time, limit int) ([]*vigil.Message, error) {
	var rows []*messageRow
	if err := s.db.NewSelect().Model(&rows).Where("status = ? AND created_at >= ?", vigil.MessageStored, since.UTC()).
		OrderExpr("created_at DESC, id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*vigil.Message, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// QueuedMessages lists ids of messages queued since before cutoff.
func (s *Store) QueuedMessages(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.NewSelect().Model((*messageRow)(nil)).Column("id").Where("status = ? AND created_at < ?", vigil.MessageQueued, cutoff.UTC()).
		OrderExpr("created_at").Limit(int64(limit)).Scan(ctx, &ids)
	return ids, err
}

// ListMessages lists messages, newest first.
func (s *Store) ListMessages(ctx context.Context, orgID, channel, status string, limit int) ([]*vigil.Message, error) {
	var rows []*messageRow
	q := s.db.NewSelect().Model(&rows)
	if orgID != "" {
		q = q.Where("organization_id = ?", orgID)
	}
	if channel != "" {
		q = q.Where("channel = ?", channel)
	}
	if status != "" {
		q = q.Where("status = ?", status)
	}
	err := q.OrderExpr("created_at DESC").Limit(int64(limit)).Scan(ctx)
	return domains(rows), err
}

func truncateText(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

type auditRow struct {
	bun.BaseModel  `bun:"table:audit_events,alias:audit"`
	ID             string    `bun:"id,pk"`
	OrganizationID string    `bun:"organization_id,nullzero"`
	ActorID        string    `bun:"actor_id,nullzero"`
	ImpersonatorID string    `bun:"impersonator_id,nullzero"`
	Action         string    `bun:"action"`
	ResourceType   string    `bun:"resource_type"`
	ResourceID     string    `bun:"resource_id"`
	IP             string    `bun:"ip"`
	UserAgent      string    `bun:"user_agent"`
	RequestID      string    `bun:"request_id"`
	Changes        string    `bun:"changes"`
	CreatedAt      time.Time `bun:"created_at"`
}

func (r *auditRow) domain() *vigil.AuditEvent {
	e := &vigil.AuditEvent{ID: r.ID, OrganizationID: r.OrganizationID, ActorID: r.ActorID, ImpersonatorID: r.ImpersonatorID,
		Action: r.Action, ResourceType: r.ResourceType, ResourceID: r.ResourceID, IP: r.IP, UserAgent: r.UserAgent,
		RequestID: r.RequestID, CreatedAt: r.CreatedAt, Changes: map[string]any{}}
	_ = json.Unmarshal([]byte(r.Changes), &e.Changes)
	return e
}

// RecordAudit appends an event. Nothing updates or deletes audit rows.
func (s *Store) RecordAudit(ctx context.Context, e *vigil.AuditEvent) error {
	if e.ID == "" {
		e.ID = vigil.NewID()
	}
	e.CreatedAt = s.now()
	b, _ := json.Marshal(e.Changes)
	if e.Changes == nil {
		b = []byte("{}")
	}
	row := &auditRow{ID: e.ID, OrganizationID: e.OrganizationID, ActorID: e.ActorID, ImpersonatorID: e.ImpersonatorID, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, IP: e.IP, UserAgent: truncateText(e.UserAgent, 255),
		RequestID: e.RequestID, Changes: string(b), CreatedAt: e.CreatedAt}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
}

var auditColumns = map[string]column{
	"action": {expr: "action", text: true}, "actor_id": {expr: "actor_id", uuid: true}, "user_id": {expr: "actor_id", uuid: true},
	"resource_type": {expr: "resource_type"}, "resource_id": {expr: "resource_id"}, "created_at": {expr: "created_at"},
	"impersonator_id": {expr: "impersonator_id", uuid: true}, "request_id": {expr: "request_id"}, "ip": {expr: "ip"},
	"created_after": {expr: "created_at"}, "created_before": {expr: "created_at"},
}

// FindAudit returns one audit event of orgID.
func (s *Store) FindAudit(ctx context.Context, orgID, id string) (*vigil.AuditEvent, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("audit event")
	}
	row := new(auditRow)
	if err := s.db.NewSelect().Model(row).Where("audit.id = ? AND audit.organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "audit event")
	}
	return row.domain(), nil
}

// PruneAudit deletes audit events older than cutoff: the retention the
// operator configured. No API deletes audit rows.
func (s *Store) PruneAudit(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*auditRow)(nil)).Where("created_at < ?", cutoff).Exec(ctx)
		if err != nil {
			return err
		}
		n = rowsAffected(res)
		return nil
	})
	return n, err
}

// ListAudit lists an organization's audit events.
func (s *Store) ListAudit(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.AuditEvent, int, error) {
	var rows []*auditRow
	q := s.db.NewSelect().Model(&rows).Where("audit.organization_id = ?", orgID)
	return listPage(ctx, s, q, &rows, "audit", auditColumns, vigil.AuditList, opts)
}

var (
	_ vigil.MessageService = (*Store)(nil)
	_ vigil.AuditService   = (*Store)(nil)
)
