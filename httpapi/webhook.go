package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/vigilscan/vigil"
)

// Webhooks (CG §3.8, deliveries per §1.7). Managers and admins configure
// them; the secret is write-only, shown once when the server generates it.

// WebhookJSON is a webhook on the wire.
type WebhookJSON struct {
	ID               string     `json:"id" format:"uuid"`
	Name             string     `json:"name" example:"Ticketing"`
	URL              string     `json:"url" example:"https://hooks.example.com/vigil"`
	Events           []string   `json:"events"`
	Active           bool       `json:"active"`
	IncludeCustomers bool       `json:"include_customers" doc:"A partner's hook also receives its customers' events"`
	HasSecret        bool       `json:"has_secret"`
	Secret           string     `json:"secret,omitempty" doc:"Only in the answer that generated it: keep it to verify X-CG-Hook-Signature"`
	LastDeliveryAt   *Timestamp `json:"last_delivery_at" nullable:"true"`
	LastStatus       string     `json:"last_status" doc:"succeeded, failed or pending: the latest attempt's outcome"`
	CreatedAt        Timestamp  `json:"created_at"`
	UpdatedAt        Timestamp  `json:"updated_at"`
}

func webhookJSON(w *vigil.Webhook) WebhookJSON {
	return WebhookJSON{ID: w.ID, Name: w.Name, URL: w.URL, Events: w.Events, Active: w.Active, IncludeCustomers: w.IncludeCustomers,
		HasSecret: w.HasSecret, LastDeliveryAt: tsp(w.LastDeliveryAt), LastStatus: w.LastStatus, CreatedAt: ts(w.CreatedAt),
		UpdatedAt: ts(w.UpdatedAt)}
}

// WebhookFields are the writable fields; on update, fields left out keep
// their values.
type WebhookFields struct {
	Name             *string  `json:"name,omitempty" maxLength:"255"`
	URL              *string  `json:"url,omitempty" maxLength:"2000" doc:"http(s) URL; loopback, private, link-local and metadata addresses are refused unless the operator allow-listed them"`
	Events           []string `json:"events,omitempty" maxItems:"32" doc:"Event names (GET /v2/webhook_events)"`
	Secret           *string  `json:"secret,omitempty" minLength:"16" maxLength:"256" writeOnly:"true" doc:"HMAC key of X-CG-Hook-Signature; omitted on create: generated and returned once"`
	Active           *bool    `json:"active,omitempty" doc:"Default true"`
	IncludeCustomers *bool    `json:"include_customers,omitempty" doc:"Partners only"`
}

// WebhookBodyInput is POST /v2/webhooks.
type WebhookBodyInput struct {
	Body struct {
		Webhook WebhookFields `json:"webhook"`
	}
}

// apply validates f onto w.
func (s *Server) applyWebhook(ctx context.Context, p *vigil.Principal, w *vigil.Webhook, f *WebhookFields) error {
	v := vigil.NewValidation("webhook")
	if f.Name != nil {
		w.Name = strings.TrimSpace(*f.Name)
	}
	if w.Name == "" {
		v.Add("name", "can't be blank")
	}
	if f.URL != nil {
		w.URL = strings.TrimSpace(*f.URL)
		if s.cfg.WebhookURLCheck != nil {
			if err := s.cfg.WebhookURLCheck(ctx, w.URL); err != nil {
				v.Add("url", err.Error())
			}
		} else if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
			v.Add("url", "must be an absolute http:// or https:// URL")
		}
	}
	if w.URL == "" && !v.Has("url") {
		v.Add("url", "can't be blank")
	}
	if f.Events != nil {
		w.Events = nil
		for _, e := range f.Events {
			e = strings.TrimSpace(e)
			if !vigil.ValidWebhookEvent(e) {
				v.Addf("events", "unknown event %q (see GET /v2/webhook_events)", e)
				continue
			}
			if !slices.Contains(w.Events, e) {
				w.Events = append(w.Events, e)
			}
		}
	}
	if len(w.Events) == 0 && !v.Has("events") {
		v.Add("events", "name at least one event")
	}
	if f.Active != nil {
		w.Active = *f.Active
	}
	if f.IncludeCustomers != nil {
		if *f.IncludeCustomers && !p.Partner {
			v.Add("include_customers", "only a partner organization has customers")
		}
		w.IncludeCustomers = *f.IncludeCustomers
	}
	if f.Secret != nil {
		w.Secret = *f.Secret
	}
	return v.Err()
}

func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

func (s *Server) handleWebhookList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[WebhookJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.WebhookList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ws, total, err := s.Webhooks.FindWebhooks(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(ws, webhookJSON, opts, total), nil
}

func (s *Server) handleWebhookShow(ctx context.Context, in *IDPath) (*DataOutput[WebhookJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w, err := s.Webhooks.FindWebhookByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(webhookJSON(w)), nil
}

func (s *Server) handleWebhookCreate(ctx context.Context, in *WebhookBodyInput) (*DataOutput[WebhookJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w := &vigil.Webhook{Active: true}
	if err := s.applyWebhook(ctx, p, w, &in.Body.Webhook); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	generated := w.Secret == ""
	if generated {
		w.Secret = newSecret()
	}
	if err := s.Webhooks.CreateWebhook(ctx, p.OrganizationID, p.UserID, w); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "webhook.create", "webhook", w.ID, webhookChanges(w, in.Body.Webhook.Secret != nil))
	out := webhookJSON(w)
	if generated {
		out.Secret = w.Secret
	}
	return dataOutput(out), nil
}

// webhookChanges is the audit summary; the secret is named, never shown.
func webhookChanges(w *vigil.Webhook, secretSet bool) map[string]any {
	c := map[string]any{"name": w.Name, "url": w.URL, "events": w.Events, "active": w.Active, "include_customers": w.IncludeCustomers}
	if secretSet {
		c["secret"] = "[redacted]"
	}
	return c
}

// WebhookUpdateInput is PUT /v2/webhooks/{id}.
type WebhookUpdateInput struct {
	IDPath
	Body struct {
		Webhook WebhookFields `json:"webhook"`
	}
}

func (s *Server) handleWebhookUpdate(ctx context.Context, in *WebhookUpdateInput) (*DataOutput[WebhookJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w, err := s.Webhooks.FindWebhookByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.applyWebhook(ctx, p, w, &in.Body.Webhook); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Webhooks.UpdateWebhook(ctx, p.OrganizationID, in.ID, w); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "webhook.update", "webhook", w.ID, webhookChanges(w, in.Body.Webhook.Secret != nil))
	return dataOutput(webhookJSON(w)), nil
}

func (s *Server) setWebhookActive(ctx context.Context, id string, active bool) (*DataOutput[WebhookJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w, err := s.Webhooks.FindWebhookByID(ctx, p.OrganizationID, id)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w.Active = active
	if err := s.Webhooks.UpdateWebhook(ctx, p.OrganizationID, id, w); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	action := "webhook.deactivate"
	if active {
		action = "webhook.activate"
	}
	s.audit(ctx, action, "webhook", w.ID, map[string]any{"active": active})
	return dataOutput(webhookJSON(w)), nil
}

func (s *Server) handleWebhookActivate(ctx context.Context, in *IDPath) (*DataOutput[WebhookJSON], error) {
	return s.setWebhookActive(ctx, in.ID, true)
}

func (s *Server) handleWebhookDeactivate(ctx context.Context, in *IDPath) (*DataOutput[WebhookJSON], error) {
	return s.setWebhookActive(ctx, in.ID, false)
}

func (s *Server) handleWebhookRotateSecret(ctx context.Context, in *IDPath) (*DataOutput[WebhookJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w, err := s.Webhooks.FindWebhookByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w.Secret = newSecret()
	if err := s.Webhooks.UpdateWebhook(ctx, p.OrganizationID, in.ID, w); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "webhook.rotate_secret", "webhook", w.ID, map[string]any{"secret": "[redacted]"})
	out := webhookJSON(w)
	out.Secret = w.Secret
	return dataOutput(out), nil
}

func (s *Server) handleWebhookDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Webhooks.DeleteWebhook(ctx, p.OrganizationID, in.ID); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "webhook.delete", "webhook", in.ID, nil)
	return deleteOutput([]string{in.ID}), nil
}

// WebhookEventJSON names a subscribable event.
type WebhookEventJSON struct {
	Name string `json:"name" example:"scan_completed"`
}

func (s *Server) handleWebhookEvents(ctx context.Context, _ *struct{}) (*DataOutput[[]WebhookEventJSON], error) {
	if _, err := principal(ctx, vigil.ActionRead); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := make([]WebhookEventJSON, len(vigil.WebhookEvents))
	for i, e := range vigil.WebhookEvents {
		out[i] = WebhookEventJSON{Name: e}
	}
	return dataOutput(out), nil
}

// DeliveryJSON is a delivery on the wire.
type DeliveryJSON struct {
	ID           string       `json:"id" format:"uuid" doc:"Sent as X-CG-Hook-Delivery"`
	WebhookID    string       `json:"webhook_id" format:"uuid"`
	Event        string       `json:"event"`
	Status       string       `json:"status" enum:"pending,succeeded,failed"`
	Attempts     int          `json:"attempts"`
	ResponseCode int          `json:"response_code" doc:"Of the latest attempt; 0 when no answer came"`
	DurationMS   int          `json:"duration_ms" doc:"Of the latest attempt"`
	LastError    string       `json:"last_error"`
	DeliveredAt  *Timestamp   `json:"delivered_at" nullable:"true"`
	CreatedAt    Timestamp    `json:"created_at"`
	UpdatedAt    Timestamp    `json:"updated_at"`
	Payload      string       `json:"payload,omitempty" doc:"The exact body sent (show only)"`
	Log          []AttemptLog `json:"attempts_log,omitempty" doc:"Every attempt (show only)"`
}

// AttemptLog is one attempt.
type AttemptLog struct {
	Attempt         int               `json:"attempt"`
	RequestHeaders  map[string]string `json:"request_headers"`
	ResponseCode    int               `json:"response_code"`
	ResponseHeaders map[string]string `json:"response_headers"`
	ResponseBody    string            `json:"response_body" doc:"The first 2 KiB"`
	DurationMS      int               `json:"duration_ms"`
	Error           string            `json:"error"`
	CreatedAt       Timestamp         `json:"created_at"`
}

func deliveryJSON(d *vigil.WebhookDelivery) DeliveryJSON {
	return DeliveryJSON{ID: d.ID, WebhookID: d.WebhookID, Event: d.Event, Status: string(d.Status), Attempts: d.Attempts,
		ResponseCode: d.ResponseCode, DurationMS: d.DurationMS, LastError: d.LastError, DeliveredAt: tsp(d.DeliveredAt),
		CreatedAt: ts(d.CreatedAt), UpdatedAt: ts(d.UpdatedAt)}
}

// DeliveryListInput is GET /v2/webhooks/{id}/deliveries.
type DeliveryListInput struct {
	IDPath
	ListParams
}

func (s *Server) handleDeliveryList(ctx context.Context, in *DeliveryListInput) (*ListOutput[DeliveryJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.DeliveryList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ds, total, err := s.Webhooks.FindDeliveries(ctx, p.OrganizationID, in.ID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(ds, deliveryJSON, opts, total), nil
}

// DeliveryPath names a delivery of a webhook.
type DeliveryPath struct {
	ID         string `path:"id" doc:"Webhook id"`
	DeliveryID string `path:"delivery_id"`
}

func (s *Server) handleDeliveryShow(ctx context.Context, in *DeliveryPath) (*DataOutput[DeliveryJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	d, err := s.Webhooks.FindDeliveryByID(ctx, p.OrganizationID, in.ID, in.DeliveryID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := deliveryJSON(d)
	out.Payload = d.Payload
	out.Log = make([]AttemptLog, len(d.Log))
	for i, a := range d.Log {
		out.Log[i] = AttemptLog{Attempt: a.Attempt, RequestHeaders: a.RequestHeaders, ResponseCode: a.ResponseCode,
			ResponseHeaders: a.ResponseHeaders, ResponseBody: a.ResponseBody, DurationMS: a.DurationMS, Error: a.Error,
			CreatedAt: ts(a.CreatedAt)}
		if out.Log[i].ResponseHeaders == nil {
			out.Log[i].ResponseHeaders = map[string]string{}
		}
		if out.Log[i].RequestHeaders == nil {
			out.Log[i].RequestHeaders = map[string]string{}
		}
	}
	return dataOutput(out), nil
}

func (s *Server) handleDeliveryRedeliver(ctx context.Context, in *DeliveryPath) (*DataOutput[DeliveryJSON], error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if s.EnqueueDelivery == nil {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EINTERNAL, "no job runner"))
	}
	d, err := s.Webhooks.RedeliverDelivery(ctx, p.OrganizationID, in.ID, in.DeliveryID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	// A failed enqueue is caught up by the reconciler: the row is pending.
	if err := s.EnqueueDelivery(ctx, d.ID); err != nil {
		s.log.WarnContext(ctx, "redelivery not enqueued (the reconciler will)", "delivery", d.ID, "err", err)
	}
	s.audit(ctx, "webhook.redeliver", "webhook_delivery", d.ID, map[string]any{"webhook_id": in.ID})
	return dataOutput(deliveryJSON(d)), nil
}
