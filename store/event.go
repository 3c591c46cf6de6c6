package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

type eventRow struct {
	bun.BaseModel  `bun:"table:events,alias:ev"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	Type           string     `bun:"type"`
	ResourceType   string     `bun:"resource_type"`
	ResourceID     string     `bun:"resource_id"`
	Title          string     `bun:"title"`
	Message        string     `bun:"message"`
	Outcome        string     `bun:"outcome"`
	MaxSeverity    float64    `bun:"max_severity"`
	Data           string     `bun:"data"`
	CreatedAt      time.Time  `bun:"created_at"`
	DispatchedAt   *time.Time `bun:"dispatched_at"`
}

// emit writes events to the outbox in the caller's transaction: they exist
// exactly when the change that caused them committed.
func (s *Store) emit(ctx context.Context, tx bun.IDB, evs ...*vigil.Event) error {
	if len(evs) == 0 {
		return nil
	}
	now := s.now()
	rows := make([]*eventRow, len(evs))
	for i, e := range evs {
		if e.ID == "" {
			e.ID = vigil.NewID()
		}
		e.CreatedAt = now
		b, err := json.Marshal(e.Data)
		if err != nil {
			return err
		}
		rows[i] = &eventRow{ID: e.ID, OrganizationID: e.OrganizationID, Type: e.Type, ResourceType: e.ResourceType,
			ResourceID: e.ResourceID, Title: truncateText(e.Title, 255), Message: truncateText(e.Message, 2000), Outcome: e.Outcome,
			MaxSeverity: e.MaxSeverity, Data: string(b), CreatedAt: now}
	}
	for _, chunk := range chunks(rows, 500) {
		if _, err := tx.NewInsert().Model(&chunk).Exec(ctx); err != nil {
			return err
		}
	}
	s.emitted.Store(true)
	return nil
}

func (r *eventRow) domain() *vigil.Event {
	e := &vigil.Event{ID: r.ID, OrganizationID: r.OrganizationID, Type: r.Type, ResourceType: r.ResourceType, ResourceID: r.ResourceID,
		Title: r.Title, Message: r.Message, Outcome: r.Outcome, MaxSeverity: r.MaxSeverity, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal([]byte(r.Data), &e.Data)
	return e
}

// hookPayload is the body of a webhook delivery (CG §1.7).
type hookPayload struct {
	Event          string         `json:"event"`
	DeliveryID     string         `json:"delivery_id"`
	CreatedAt      any            `json:"created_at"`
	OrganizationID string         `json:"organization_id"`
	Data           map[string]any `json:"data"`
}

// DispatchEvents fans up to limit undispatched events out: a delivery per
// subscribed webhook (of the event's organization, and of its partner when
// that hook includes customers) and a notification per user whose
// preferences ask for it. Everything is written in one transaction with the
// events marked dispatched, and deliveries and notifications are unique per
// event, so a crash or two replicas never double them. It returns the
// deliveries to enqueue and the notifications to e-mail.
func (s *Store) DispatchEvents(ctx context.Context, limit int) (deliveries, emails []string, n int, err error) {
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		deliveries, emails = nil, nil
		var rows []*eventRow
		q := tx.NewSelect().Model(&rows).Where("ev.dispatched_at IS NULL").OrderExpr("ev.created_at, ev.id").Limit(int64(limit))
		if s.dialect == Postgres {
			q = q.For("UPDATE SKIP LOCKED")
		}
		if err := q.Scan(ctx); err != nil {
			return err
		}
		n = len(rows)
		if n == 0 {
			return nil
		}
		hooks, err := s.hooksFor(ctx, tx, rows)
		if err != nil {
			return err
		}
		now := s.now()
		ids := make([]string, len(rows))
		rc := &recipientCache{users: map[string][]recipient{}, access: map[string]bool{}}
		for i, r := range rows {
			ids[i] = r.ID
			ev := r.domain()
			d, err := s.queueDeliveries(ctx, tx, ev, hooks, now)
			if err != nil {
				return err
			}
			deliveries = append(deliveries, d...)
			m, err := s.notifyUsers(ctx, tx, ev, rc, now)
			if err != nil {
				return err
			}
			emails = append(emails, m...)
		}
		_, err = tx.NewUpdate().Model((*eventRow)(nil)).Set("dispatched_at = ?", now).Where("ev.id IN (?)", bun.In(ids)).Exec(ctx)
		return err
	})
	return deliveries, emails, n, err
}

// hooksFor loads the active webhooks that may receive rows' events: their
// organizations' own, and their partners' that include customers.
func (s *Store) hooksFor(ctx context.Context, tx bun.IDB, rows []*eventRow) (map[string][]*webhookRow, error) {
	orgSet := map[string]bool{}
	for _, r := range rows {
		orgSet[r.OrganizationID] = true
	}
	orgs := setKeys(orgSet)
	var parents []struct {
		ID        string `bun:"id"`
		PartnerID string `bun:"partner_id"`
	}
	if err := tx.NewSelect().TableExpr("organizations").Column("id", "partner_id").
		Where("id IN (?) AND partner_id IS NOT NULL", bun.In(orgs)).Scan(ctx, &parents); err != nil {
		return nil, err
	}
	partnerOf := map[string]string{}
	all := slices.Clone(orgs)
	for _, p := range parents {
		partnerOf[p.ID] = p.PartnerID
		all = append(all, p.PartnerID)
	}
	var hooks []*webhookRow
	if err := tx.NewSelect().Model(&hooks).Where("wh.organization_id IN (?) AND wh.active", bun.In(all)).Scan(ctx); err != nil {
		return nil, err
	}
	byOrg := map[string][]*webhookRow{}
	for _, h := range hooks {
		byOrg[h.OrganizationID] = append(byOrg[h.OrganizationID], h)
	}
	out := map[string][]*webhookRow{}
	for _, org := range orgs {
		out[org] = append(out[org], byOrg[org]...)
		if p := partnerOf[org]; p != "" {
			for _, h := range byOrg[p] {
				if h.IncludeCustomers {
					out[org] = append(out[org], h)
				}
			}
		}
	}
	return out, nil
}

func (s *Store) queueDeliveries(ctx context.Context, tx bun.IDB, ev *vigil.Event, hooks map[string][]*webhookRow, now time.Time) ([]string, error) {
	var out []string
	for _, h := range hooks[ev.OrganizationID] {
		if !slices.Contains(strings.Split(h.Events, ","), ev.Type) {
			continue
		}
		id := vigil.NewID()
		body, err := json.Marshal(hookPayload{Event: ev.Type, DeliveryID: id, CreatedAt: stamp(&ev.CreatedAt),
			OrganizationID: ev.OrganizationID, Data: ev.Data})
		if err != nil {
			return nil, err
		}
		d := &deliveryRow{ID: id, WebhookID: h.ID, OrganizationID: h.OrganizationID, EventID: ev.ID, Event: ev.Type,
			Payload: string(body), Status: string(vigil.DeliveryPending), CreatedAt: now, UpdatedAt: now}
		res, err := tx.NewInsert().Model(d).On("CONFLICT (webhook_id, event_id) DO NOTHING").Exec(ctx)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, id)
		}
	}
	return out, nil
}

// recipient is a user of an organization with their preference for one
// kind of notification (nil fields: the default).
type recipient struct {
	ID      string  `bun:"id"`
	Role    string  `bun:"role"`
	Enabled *bool   `bun:"enabled"`
	Email   *bool   `bun:"email"`
	Params  *string `bun:"params"`
}

// recipientCache keeps, for one dispatch batch, the users of each
// (organization, preference) and the scan access of restricted users, so a
// batch of events costs a query per organization, not per event.
type recipientCache struct {
	users  map[string][]recipient // organization + "/" + preference
	access map[string]bool        // user + "/" + scan
}

// notifyUsers creates the notifications of ev: every user of its
// organization whose preference for the event's kind is enabled and whose
// narrowing (scan state, PCI outcome, severity) matches. A user restricted
// to groups is only told of scans they can see.
func (s *Store) notifyUsers(ctx context.Context, tx bun.IDB, ev *vigil.Event, rc *recipientCache, now time.Time) ([]string, error) {
	pref, status := vigil.NotificationEventOf(ev.Type)
	if pref == "" {
		return nil, nil
	}
	key := ev.OrganizationID + "/" + pref
	users, ok := rc.users[key]
	if !ok {
		if err := tx.NewSelect().TableExpr("users AS u").
			Join("LEFT JOIN notification_preferences AS np ON np.user_id = u.id AND np.name = ?", pref).
			ColumnExpr("u.id, u.role, np.enabled, np.email, np.params").
			Where("u.organization_id = ?", ev.OrganizationID).Scan(ctx, &users); err != nil {
			return nil, err
		}
		rc.users[key] = users
	}
	var rows []*notificationRow
	var emails []string
	for _, u := range users {
		if u.Enabled != nil && !*u.Enabled {
			continue
		}
		var p vigil.NotificationParams
		if u.Params != nil {
			_ = json.Unmarshal([]byte(*u.Params), &p)
		}
		if !preferenceMatches(p, status, ev) {
			continue
		}
		if !vigil.Role(u.Role).Can(vigil.ActionManage) && ev.ResourceType == vigil.ResourceScan {
			akey := u.ID + "/" + ev.ResourceID
			visible, ok := rc.access[akey]
			if !ok {
				level, err := s.ResourceAccess(ctx, ev.OrganizationID, u.ID, ev.ResourceType, ev.ResourceID)
				if err != nil {
					return nil, err
				}
				visible = level.Rank() >= vigil.AccessView.Rank()
				rc.access[akey] = visible
			}
			if !visible {
				continue
			}
		}
		email := u.Email != nil && *u.Email
		data, _ := json.Marshal(ev.Data)
		r := &notificationRow{ID: vigil.NewID(), OrganizationID: ev.OrganizationID, UserID: u.ID, EventID: ev.ID, Type: pref,
			Event: ev.Type, Title: ev.Title, Message: ev.Message, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID,
			Data: string(data), EmailPending: email, CreatedAt: now}
		rows = append(rows, r)
		if email {
			emails = append(emails, r.ID)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	_, err := tx.NewInsert().Model(&rows).On("CONFLICT (user_id, event_id) DO NOTHING").Exec(ctx)
	return emails, err
}

// preferenceMatches applies a preference's narrowing to an event; an empty
// list matches everything.
func preferenceMatches(p vigil.NotificationParams, status string, ev *vigil.Event) bool {
	if status != "" && len(p.WhenStatus) > 0 && !slices.Contains(p.WhenStatus, status) {
		return false
	}
	if ev.Outcome != "" && len(p.IfCompleted) > 0 && !slices.Contains(p.IfCompleted, ev.Outcome) {
		return false
	}
	if len(p.IfSeverity) > 0 && ev.Type == vigil.EventScanCompleted {
		if !slices.Contains(p.IfSeverity, int(math.Floor(max(ev.MaxSeverity, 0)))) {
			return false
		}
	}
	return true
}

// PruneEvents deletes events dispatched before cutoff (deliveries and
// notifications keep their own copies).
func (s *Store) PruneEvents(ctx context.Context, cutoff time.Time) (int, error) {
	var n int
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewDelete().Model((*eventRow)(nil)).Where("dispatched_at IS NOT NULL AND dispatched_at < ?", cutoff).Exec(ctx)
		if err != nil {
			return err
		}
		n = rowsAffected(res)
		return nil
	})
	return n, err
}

// scanEvent builds the event of a run entering status (nil when the status
// has none).
func scanEvent(sc *scanRow, run *runRow) *vigil.Event {
	var typ, verb string
	switch vigil.ScanStatus(run.Status) {
	case vigil.StatusRunning:
		typ, verb = vigil.EventScanStarted, "started"
	case vigil.StatusDone:
		typ, verb = vigil.EventScanCompleted, "completed"
	case vigil.StatusStopped:
		typ, verb = vigil.EventScanStopped, "was stopped"
	case vigil.StatusFailed, vigil.StatusInterrupted:
		typ, verb = vigil.EventScanFailed, "failed"
	default:
		return nil
	}
	counts := map[string]int{"high": run.CountHigh, "medium": run.CountMedium, "low": run.CountLow, "log": run.CountLog}
	runData := map[string]any{"id": run.ID, "status": run.Status, "progress": run.Progress, "reason": run.Reason,
		"hosts_total": run.HostsTotal, "hosts_up": run.HostsUp, "requested_at": stamp(&run.RequestedAt),
		"started_at": stamp(run.StartedAt), "ended_at": stamp(run.EndedAt), "counts": counts, "compliance": run.Compliant}
	e := &vigil.Event{OrganizationID: sc.OrganizationID, Type: typ, ResourceType: vigil.ResourceScan, ResourceID: sc.ID,
		Title: "Scan " + sc.Name + " " + verb,
		Data:  map[string]any{"scan": map[string]any{"id": sc.ID, "name": sc.Name, "target_id": sc.TargetID, "status": run.Status}, "run": runData}}
	msg := "Scan \"" + sc.Name + "\" " + verb + "."
	if run.Reason != "" && typ != vigil.EventScanCompleted {
		msg += " " + run.Reason
	}
	if typ == vigil.EventScanCompleted {
		switch {
		case run.CountHigh > 0:
			e.MaxSeverity = 7
		case run.CountMedium > 0:
			e.MaxSeverity = 4
		case run.CountLow > 0:
			e.MaxSeverity = 0.1
		}
		if run.Compliant != nil {
			e.Outcome = "fail"
			if *run.Compliant {
				e.Outcome = "pass"
			}
			msg += " PCI: " + e.Outcome + "."
		}
	}
	e.Message = msg
	return e
}

// stamp formats a time as the API does, or nil.
func stamp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// emitScanEvent emits the event of run's status for its scan.
func (s *Store) emitScanEvent(ctx context.Context, tx bun.IDB, run *runRow) error {
	sc := new(scanRow)
	if err := tx.NewSelect().Model(sc).Column("id", "organization_id", "name", "target_id").Where("id = ?", run.ScanID).Scan(ctx); err != nil {
		return err
	}
	if e := scanEvent(sc, run); e != nil {
		return s.emit(ctx, tx, e)
	}
	return nil
}

// rowsAffected is how many rows res changed.
func rowsAffected(res sql.Result) int {
	n, _ := res.RowsAffected()
	return int(n)
}
