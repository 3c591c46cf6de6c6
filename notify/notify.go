// Package notify moves events from the outbox to people and systems: it
// fans them out (webhook deliveries, in-app notifications), queues the
// deliveries and e-mails, and makes each webhook delivery attempt.
package notify

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/message"
	"github.com/vigilscan/vigil/webhook"
)

// Store is what the dispatcher and the deliverer use.
type Store interface {
	vigil.Dispatcher
	PendingNotificationEmails(ctx context.Context, ids []string, cutoff time.Time, limit int) ([]*vigil.NotificationEmail, error)
	NotificationEmailed(ctx context.Context, id string) error
	DeliveryForSending(ctx context.Context, id string) (*vigil.DeliveryJob, error)
	RecordDeliveryAttempt(ctx context.Context, id string, a *vigil.DeliveryAttempt, ok, final bool) error
}

// Dispatcher drains the outbox.
type Dispatcher struct {
	Store   Store
	Enqueue func(ctx context.Context, deliveryIDs []string) error // a River job per delivery
	Mail    *message.Sender                                       // nil: no e-mail
	Portal  string                                                // links in e-mails
	Log     *slog.Logger

	kick chan struct{}
}

// NewDispatcher returns a dispatcher; Kick wakes it.
func NewDispatcher(st Store, enqueue func(ctx context.Context, ids []string) error, mail *message.Sender, portal string, log *slog.Logger) *Dispatcher {
	return &Dispatcher{Store: st, Enqueue: enqueue, Mail: mail, Portal: portal, Log: log, kick: make(chan struct{}, 1)}
}

// Kick asks for a dispatch soon; it never blocks.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Drain dispatches until the outbox is empty and returns how many events
// it handled.
func (d *Dispatcher) Drain(ctx context.Context) (int, error) {
	total := 0
	for range 1000 { // bounded: 200,000 events per call
		deliveries, emails, n, err := d.Store.DispatchEvents(ctx, 200)
		if err != nil {
			return total, err
		}
		total += n
		// A failed enqueue is not lost: the delivery rows are pending and the
		// reconciler enqueues them.
		if len(deliveries) > 0 {
			if err := d.Enqueue(ctx, deliveries); err != nil {
				d.Log.Warn("webhook deliveries not enqueued (the reconciler will)", "deliveries", len(deliveries), "err", err)
			}
		}
		if len(emails) > 0 {
			d.email(ctx, emails)
		}
		if n == 0 {
			return total, nil
		}
	}
	return total, nil
}

// email queues the e-mails of notifications (ids; nil: every one still
// pending for a minute).
func (d *Dispatcher) email(ctx context.Context, ids []string) {
	if d.Mail == nil {
		return
	}
	pending, err := d.Store.PendingNotificationEmails(ctx, ids, time.Now().Add(-time.Minute), 500)
	if err != nil {
		d.Log.Warn("notification e-mails not queued", "err", err)
		return
	}
	for _, p := range pending {
		n := p.Notification
		link := d.Portal
		if n.ResourceType == vigil.ResourceScan {
			link += "/scans/" + n.ResourceID
		}
		kind := map[string]string{"scan_event": "scan", "report_event": "report", "exception_event": "exception",
			"overdue_pci_reminder": "PCI reminder"}[n.Type]
		if _, err := d.Mail.Send(ctx, n.OrganizationID, n.UserID, message.TemplateNotice, p.Email, message.Data{Name: p.Name,
			Email: p.Email, Link: link, Extra: map[string]string{"title": n.Title, "message": n.Message, "kind": kind}}); err != nil {
			d.Log.Warn("notification e-mail not queued", "notification", n.ID, "err", err)
			continue
		}
		if err := d.Store.NotificationEmailed(ctx, n.ID); err != nil {
			d.Log.Warn("notification e-mail mark failed", "notification", n.ID, "err", err)
		}
	}
}

// Run dispatches when kicked, and every interval in any case (events of
// another replica, e-mails a crash left pending).
func (d *Dispatcher) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	sweep := time.NewTicker(time.Minute)
	defer sweep.Stop()
	for {
		if _, err := d.Drain(ctx); err != nil && ctx.Err() == nil {
			d.Log.Warn("event dispatch failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		case <-t.C:
		case <-sweep.C:
			d.email(ctx, nil)
		}
	}
}

// Deliverer makes webhook delivery attempts (the River job's work).
type Deliverer struct {
	Store  Store
	Client *http.Client // from webhook.Guard.Client
	Log    *slog.Logger
}

// DeliverWebhook makes one attempt; an error asks River to retry.
func (d *Deliverer) DeliverWebhook(ctx context.Context, id string, attempt int, final bool) error {
	j, err := d.Store.DeliveryForSending(ctx, id)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		return nil // delivered already, or deleted with its webhook
	}
	if err != nil {
		return err
	}
	var res *webhook.Attempt
	if !j.Active {
		res = &webhook.Attempt{Log: &vigil.DeliveryAttempt{Error: "the webhook is inactive"}}
	} else {
		res = webhook.Post(ctx, d.Client, &webhook.Job{Delivery: j.Delivery, URL: j.URL, Secret: j.Secret}, attempt)
	}
	if err := d.Store.RecordDeliveryAttempt(ctx, id, res.Log, res.OK, final || !j.Active); err != nil {
		return err
	}
	if !res.OK && !final && j.Active {
		return &retry{msg: res.Log.Error}
	}
	return nil
}

type retry struct{ msg string }

func (r *retry) Error() string { return "webhook delivery failed, will retry: " + r.msg }
