package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type webhookRow struct {
	bun.BaseModel    `bun:"table:webhooks,alias:wh"`
	ID               string     `bun:"id,pk"`
	OrganizationID   string     `bun:"organization_id"`
	OwnerID          string     `bun:"owner_id,nullzero"`
	Name             string     `bun:"name"`
	URL              string     `bun:"url"`
	Events           string     `bun:"events"`
	SecretSealed     string     `bun:"secret_sealed"`
	Active           bool       `bun:"active"`
	IncludeCustomers bool       `bun:"include_customers"`
	LastDeliveryAt   *time.Time `bun:"last_delivery_at"`
	LastStatus       string     `bun:"last_status"`
	CreatedAt        time.Time  `bun:"created_at"`
	UpdatedAt        time.Time  `bun:"updated_at"`
}

func (r *webhookRow) domain() *vigil.Webhook {
	return &vigil.Webhook{ID: r.ID, OrganizationID: r.OrganizationID, OwnerID: r.OwnerID, Name: r.Name, URL: r.URL,
		Events: splitList(r.Events), HasSecret: r.SecretSealed != "", Active: r.Active, IncludeCustomers: r.IncludeCustomers,
		LastDeliveryAt: r.LastDeliveryAt, LastStatus: r.LastStatus, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

type deliveryRow struct {
	bun.BaseModel  `bun:"table:webhook_deliveries,alias:wd"`
	ID             string     `bun:"id,pk"`
	WebhookID      string     `bun:"webhook_id"`
	OrganizationID string     `bun:"organization_id"`
	EventID        string     `bun:"event_id"`
	Event          string     `bun:"event"`
	Payload        string     `bun:"payload"`
	Status         string     `bun:"status"`
	Attempts       int        `bun:"attempts"`
	ResponseCode   int        `bun:"response_code"`
	DurationMS     int        `bun:"duration_ms"`
	LastError      string     `bun:"last_error"`
	DeliveredAt    *time.Time `bun:"delivered_at"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
}

func (r *deliveryRow) domain() *vigil.WebhookDelivery {
	return &vigil.WebhookDelivery{ID: r.ID, WebhookID: r.WebhookID, OrganizationID: r.OrganizationID, EventID: r.EventID,
		Event: r.Event, Payload: r.Payload, Status: vigil.DeliveryStatus(r.Status), Attempts: r.Attempts,
		ResponseCode: r.ResponseCode, DurationMS: r.DurationMS, LastError: r.LastError, DeliveredAt: r.DeliveredAt,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

type attemptRow struct {
	bun.BaseModel   `bun:"table:webhook_attempts,alias:wa"`
	DeliveryID      string    `bun:"delivery_id,pk"`
	Attempt         int       `bun:"attempt,pk"`
	RequestHeaders  string    `bun:"request_headers"`
	ResponseCode    int       `bun:"response_code"`
	ResponseHeaders string    `bun:"response_headers"`
	ResponseBody    string    `bun:"response_body"`
	DurationMS      int       `bun:"duration_ms"`
	Error           string    `bun:"error"`
	CreatedAt       time.Time `bun:"created_at"`
}

func (r *attemptRow) domain() *vigil.DeliveryAttempt {
	a := &vigil.DeliveryAttempt{Attempt: r.Attempt, ResponseCode: r.ResponseCode, ResponseBody: r.ResponseBody,
		DurationMS: r.DurationMS, Error: r.Error, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal([]byte(r.RequestHeaders), &a.RequestHeaders)
	_ = json.Unmarshal([]byte(r.ResponseHeaders), &a.ResponseHeaders)
	return a
}

func webhookAAD(id string) []byte { return []byte("webhook-secret:" + id) }

var webhookColumns = map[string]column{
	"name": {expr: "name", text: true}, "url": {expr: "url", text: true}, "active": {expr: "active"},
	"id": {expr: "id", uuid: true}, "created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
}

// FindWebhooks lists an organization's webhooks.
func (s *Store) FindWebhooks(ctx context.Context, orgID string, opts vigil.ListOptions) ([]*vigil.Webhook, int, error) {
	var rows []*webhookRow
	q := s.db.NewSelect().Model(&rows).Where("wh.organization_id = ?", orgID)
	return listPage(ctx, s, q, &rows, "wh", webhookColumns, vigil.WebhookList, opts)
}

// FindWebhookByID returns one webhook of orgID.
func (s *Store) FindWebhookByID(ctx context.Context, orgID, id string) (*vigil.Webhook, error) {
	row, err := s.findWebhook(ctx, s.db, orgID, id)
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

func (s *Store) findWebhook(ctx context.Context, db bun.IDB, orgID, id string) (*webhookRow, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("webhook")
	}
	row := new(webhookRow)
	if err := db.NewSelect().Model(row).Where("wh.id = ? AND wh.organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "webhook")
	}
	return row, nil
}

func (s *Store) sealWebhookSecret(row *webhookRow, secret string) error {
	if s.opts.Sealer == nil {
		return vigil.Errorf(vigil.EINTERNAL, "store: no sealer configured")
	}
	sealed, err := s.opts.Sealer.Seal([]byte(secret), webhookAAD(row.ID))
	if err != nil {
		return err
	}
	row.SecretSealed = base64.StdEncoding.EncodeToString(sealed)
	return nil
}

// CreateWebhook stores w (its Secret is sealed) and sets its id and times.
func (s *Store) CreateWebhook(ctx context.Context, orgID, ownerID string, w *vigil.Webhook) error {
	now := s.now()
	row := &webhookRow{ID: vigil.NewID(), OrganizationID: orgID, OwnerID: ownerID, Name: w.Name, URL: w.URL,
		Events: strings.Join(w.Events, ","), Active: w.Active, IncludeCustomers: w.IncludeCustomers, CreatedAt: now, UpdatedAt: now}
	if err := s.sealWebhookSecret(row, w.Secret); err != nil {
		return err
	}
	if err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	}); err != nil {
		return err
	}
	secret := w.Secret
	*w = *row.domain()
	w.Secret = secret
	return nil
}

// UpdateWebhook writes w's fields; a non-empty Secret replaces the secret.
func (s *Store) UpdateWebhook(ctx context.Context, orgID, id string, w *vigil.Webhook) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row, err := s.findWebhook(ctx, tx, orgID, id)
		if err != nil {
			return err
		}
		row.Name, row.URL, row.Events, row.Active, row.IncludeCustomers = w.Name, w.URL, strings.Join(w.Events, ","), w.Active, w.IncludeCustomers
		row.UpdatedAt = s.now()
		cols := []string{"name", "url", "events", "active", "include_customers", "updated_at"}
		if w.Secret != "" {
			if err := s.sealWebhookSecret(row, w.Secret); err != nil {
				return err
			}
			cols = append(cols, "secret_sealed")
		}
		if _, err := tx.NewUpdate().Model(row).WherePK().Column(cols...).Exec(ctx); err != nil {
			return err
		}
		secret := w.Secret
		*w = *row.domain()
		w.Secret = secret
		return nil
	})
}

// DeleteWebhook deletes a webhook and its deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, orgID, id string) error {
	if !vigil.IsUUID(id) {
		return vigil.NotFound("webhook")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return affected(ctx, tx.NewDelete().Model((*webhookRow)(nil)).Where("id = ? AND organization_id = ?", id, orgID), "webhook")
	})
}

var deliveryColumns = map[string]column{
	"event": {expr: "event"}, "status": {expr: "status"}, "id": {expr: "id", uuid: true},
	"created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"}, "attempts": {expr: "attempts"},
}

// FindDeliveries lists a webhook's deliveries, newest first by default.
func (s *Store) FindDeliveries(ctx context.Context, orgID, webhookID string, opts vigil.ListOptions) ([]*vigil.WebhookDelivery, int, error) {
	if _, err := s.findWebhook(ctx, s.db, orgID, webhookID); err != nil {
		return nil, 0, err
	}
	var rows []*deliveryRow
	q := s.db.NewSelect().Model(&rows).Where("wd.webhook_id = ?", webhookID)
	return listPage(ctx, s, q, &rows, "wd", deliveryColumns, vigil.DeliveryList, opts)
}

// FindDeliveryByID returns a delivery with its attempts.
func (s *Store) FindDeliveryByID(ctx context.Context, orgID, webhookID, id string) (*vigil.WebhookDelivery, error) {
	if _, err := s.findWebhook(ctx, s.db, orgID, webhookID); err != nil {
		return nil, err
	}
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("delivery")
	}
	row := new(deliveryRow)
	if err := s.db.NewSelect().Model(row).Where("wd.id = ? AND wd.webhook_id = ?", id, webhookID).Scan(ctx); err != nil {
		return nil, notFound(err, "delivery")
	}
	var attempts []*attemptRow
	if err := s.db.NewSelect().Model(&attempts).Where("wa.delivery_id = ?", id).OrderExpr("wa.attempt").Scan(ctx); err != nil {
		return nil, err
	}
	d := row.domain()
	d.Log = domains(attempts)
	return d, nil
}

// RedeliverDelivery puts a finished delivery back to pending; the caller
// enqueues it.
func (s *Store) RedeliverDelivery(ctx context.Context, orgID, webhookID, id string) (*vigil.WebhookDelivery, error) {
	var out *vigil.WebhookDelivery
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := s.findWebhook(ctx, tx, orgID, webhookID); err != nil {
			return err
		}
		if !vigil.IsUUID(id) {
			return vigil.NotFound("delivery")
		}
		row := new(deliveryRow)
		if err := tx.NewSelect().Model(row).Where("wd.id = ? AND wd.webhook_id = ?", id, webhookID).Scan(ctx); err != nil {
			return notFound(err, "delivery")
		}
		if row.Status == string(vigil.DeliveryPending) {
			return vigil.FieldError("status", "the delivery is still pending")
		}
		row.Status, row.UpdatedAt = string(vigil.DeliveryPending), s.now()
		if _, err := tx.NewUpdate().Model(row).WherePK().Column("status", "updated_at").Exec(ctx); err != nil {
			return err
		}
		out = row.domain()
		return nil
	})
	return out, err
}

// DeliveryForSending loads a pending delivery; ENOTFOUND when it is gone or
// no longer pending (already delivered: a duplicate job does nothing).
func (s *Store) DeliveryForSending(ctx context.Context, id string) (*vigil.DeliveryJob, error) {
	var row struct {
		deliveryRow `bun:",extend"`
		URL         string `bun:"url"`
		Sealed      string `bun:"secret_sealed"`
		Active      bool   `bun:"active"`
	}
	if err := s.db.NewSelect().Model((*deliveryRow)(nil)).ColumnExpr("wd.*, wh.url, wh.secret_sealed, wh.active").
		Join("JOIN webhooks AS wh ON wh.id = wd.webhook_id").Where("wd.id = ? AND wd.status = ?", id, vigil.DeliveryPending).
		Scan(ctx, &row); err != nil {
		return nil, notFound(err, "delivery")
	}
	if s.opts.Sealer == nil {
		return nil, vigil.Errorf(vigil.EINTERNAL, "store: no sealer configured")
	}
	sealed, err := base64.StdEncoding.DecodeString(row.Sealed)
	if err != nil {
		return nil, err
	}
	secret, err := s.opts.Sealer.Open(sealed, webhookAAD(row.WebhookID))
	if err != nil {
		return nil, err
	}
	return &vigil.DeliveryJob{Delivery: row.deliveryRow.domain(), URL: row.URL, Secret: string(secret), Active: row.Active}, nil
}

// RecordDeliveryAttempt logs one attempt of a delivery and sets its state:
// succeeded on success, failed when final, else still pending.
func (s *Store) RecordDeliveryAttempt(ctx context.Context, id string, a *vigil.DeliveryAttempt, ok, final bool) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := new(deliveryRow)
		if err := tx.NewSelect().Model(row).Where("wd.id = ?", id).Scan(ctx); err != nil {
			return notFound(err, "delivery")
		}
		now := s.now()
		row.Attempts++
		a.Attempt, a.CreatedAt = row.Attempts, now
		reqH, _ := json.Marshal(a.RequestHeaders)
		respH, _ := json.Marshal(a.ResponseHeaders)
		if a.ResponseHeaders == nil {
			respH = []byte("{}")
		}
		if _, err := tx.NewInsert().Model(&attemptRow{DeliveryID: id, Attempt: a.Attempt, RequestHeaders: string(reqH),
			ResponseCode: a.ResponseCode, ResponseHeaders: string(respH), ResponseBody: a.ResponseBody, DurationMS: a.DurationMS,
			Error: truncateText(a.Error, 1000), CreatedAt: now}).Exec(ctx); err != nil {
			return err
		}
		row.ResponseCode, row.DurationMS, row.LastError, row.UpdatedAt = a.ResponseCode, a.DurationMS, truncateText(a.Error, 1000), now
		switch {
		case ok:
			row.Status, row.DeliveredAt = string(vigil.DeliverySucceeded), &now
		case final:
			row.Status = string(vigil.DeliveryFailed)
		}
		if _, err := tx.NewUpdate().Model(row).WherePK().
			Column("attempts", "response_code", "duration_ms", "last_error", "status", "delivered_at", "updated_at").Exec(ctx); err != nil {
			return err
		}
		status := string(vigil.DeliveryPending)
		if row.Status != status {
			status = row.Status
		}
		_, err := tx.NewUpdate().Model((*webhookRow)(nil)).Set("last_delivery_at = ?", now).Set("last_status = ?", status).
			Where("id = ?", row.WebhookID).Exec(ctx)
		return err
	})
}

// PendingDeliveries lists deliveries still pending that were created before
// cutoff, for the reconciler to enqueue again (a crash between the
// dispatcher's commit and its enqueue leaves them without a job).
func (s *Store) PendingDeliveries(ctx context.Context, cutoff time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.NewSelect().Model((*deliveryRow)(nil)).Column("wd.id").
		Where("wd.status = ? AND wd.updated_at < ?", vigil.DeliveryPending, cutoff).OrderExpr("wd.created_at").Limit(int64(limit)).
		Scan(ctx, &ids)
	return ids, err
}

var _ vigil.WebhookService = (*Store)(nil)
