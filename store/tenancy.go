package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/vigilscan/vigil"
)

// maxPartnerDepth bounds walks up the partner chain.
const maxPartnerDepth = 8

var organizationColumns = map[string]column{
	"id": {expr: "id", uuid: true}, "name": {expr: "name", text: true}, "partner_id": {expr: "partner_id", uuid: true},
	"created_at": {expr: "created_at"}, "updated_at": {expr: "updated_at"},
}

// CreateOrganizationFull creates an organization, its subscriptions and its
// first user in one transaction: any failure leaves nothing behind.
func (s *Store) CreateOrganizationFull(ctx context.Context, in vigil.OrganizationInput, first *vigil.UserInput, passwordHash string) (*vigil.Organization, *vigil.User, error) {
	var org *organizationRow
	var user *userRow
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if in.PartnerID != "" {
			if n, err := tx.NewSelect().Model((*organizationRow)(nil)).Where("id = ? AND is_partner", in.PartnerID).Count(ctx); err != nil {
				return err
			} else if n == 0 {
				return vigil.FieldError("organization.partner_id", "is not a partner organization")
			}
		}
		if org, err = s.insertOrganization(ctx, tx, in.Name, in.PartnerID, in.IsPartner); err != nil {
			return err
		}
		covered := map[vigil.Product]bool{}
		if !in.SkipDefaultSubscription && in.PartnerID != "" {
			var plans []*planRow
			if err := tx.NewSelect().Model(&plans).Where("organization_id = ? AND is_default", in.PartnerID).OrderExpr("product").Scan(ctx); err != nil {
				return err
			}
			for _, p := range plans {
				if _, err := s.subscribeTx(ctx, tx, org.ID, p, vigil.SubscribeInput{Plan: p.Code}); err != nil {
					return err
				}
				covered[vigil.Product(p.Product)] = true
			}
		}
		for i, sp := range in.Plans {
			p, err := s.partnerPlan(ctx, tx, org.domain(), sp.Plan)
			if err != nil {
				return vigil.FieldError(fmt.Sprintf("organization.plans[%d].plan", i), "no plan with code %q", sp.Plan)
			}
			if covered[vigil.Product(p.Product)] {
				continue // one active subscription per product: later plans are ignored
			}
			if _, err := s.subscribeTx(ctx, tx, org.ID, p, sp); err != nil {
				return err
			}
			covered[vigil.Product(p.Product)] = true
		}
		if first != nil {
			user, err = s.insertUser(ctx, tx, org.ID, *first, passwordHash, "user")
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	var u *vigil.User
	if user != nil {
		u = user.domain()
	}
	return org.domain(), u, nil
}

// UpdateOrganization renames an organization.
func (s *Store) UpdateOrganization(ctx context.Context, id, name string) (*vigil.Organization, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("organization")
	}
	row := new(organizationRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
			return notFound(err, "organization")
		}
		row.Name, row.UpdatedAt = name, s.now()
		_, err := tx.NewUpdate().Model(row).Column("name", "updated_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// DeleteOrganization deletes an organization with everything in it.
func (s *Store) DeleteOrganization(ctx context.Context, id string) error {
	if !vigil.IsUUID(id) {
		return vigil.NotFound("organization")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		row := new(organizationRow)
		if err := tx.NewSelect().Model(row).Where("id = ?", id).Scan(ctx); err != nil {
			return notFound(err, "organization")
		}
		if row.domain().IsOperator() {
			return vigil.Errorf(vigil.ECONFLICT, "the operator organization cannot be deleted")
		}
		if n, err := tx.NewSelect().Model((*organizationRow)(nil)).Where("partner_id = ?", id).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "the organization still manages %d customer organizations", n)
		}
		if n, err := tx.NewSelect().Table("subscriptions").Join("JOIN plans ON plans.id = subscriptions.plan_id").
			Where("plans.organization_id = ? AND subscriptions.organization_id <> ?", id, id).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "other organizations are subscribed to its plans")
		}
		// Children first: scans hold their scanner and target with RESTRICT keys.
		for _, t := range []string{"scan_runs", "scans", "targets", "subscriptions", "plans"} {
			if _, err := tx.NewDelete().Table(t).Where("organization_id = ?", id).Exec(ctx); err != nil {
				return err
			}
		}
		_, err := tx.NewDelete().Model((*organizationRow)(nil)).Where("id = ?", id).Exec(ctx)
		return err
	})
}

// ListOrganizations lists managerID and the organizations it manages.
func (s *Store) ListOrganizations(ctx context.Context, managerID string, opts vigil.ListOptions) ([]*vigil.Organization, int, error) {
	var rows []*organizationRow
	q := s.db.NewSelect().Model(&rows)
	mgr, err := s.FindOrganizationByID(ctx, managerID)
	if err != nil {
		return nil, 0, err
	}
	if !mgr.IsOperator() {
		ids, err := s.ManagedOrganizationIDs(ctx, managerID)
		if err != nil {
			return nil, 0, err
		}
		q = q.Where("organizations.id IN (?)", bun.In(ids))
	}
	return listPage(ctx, s, q, &rows, "organizations", organizationColumns, vigil.OrganizationList, opts)
}

// ManagedOrganizationIDs is managerID, its customers, theirs, and so on.
func (s *Store) ManagedOrganizationIDs(ctx context.Context, managerID string) ([]string, error) {
	ids := []string{managerID}
	frontier := []string{managerID}
	for depth := 0; depth < maxPartnerDepth && len(frontier) > 0; depth++ {
		var next []string
		if err := s.db.NewSelect().Model((*organizationRow)(nil)).Column("id").Where("partner_id IN (?)", bun.In(frontier)).Scan(ctx, &next); err != nil {
			return nil, err
		}
		ids = append(ids, next...)
		frontier = next
	}
	return ids, nil
}

// Manages reports whether managerID manages orgID: it is its partner, an
// ancestor partner, or the operator.
func (s *Store) Manages(ctx context.Context, managerID, orgID string) (bool, error) {
	return s.manages(ctx, managerID, orgID, true)
}

// PartnerOf reports whether partnerID is orgID's partner or an ancestor
// partner (the operator's blanket management does not count).
func (s *Store) PartnerOf(ctx context.Context, partnerID, orgID string) (bool, error) {
	return s.manages(ctx, partnerID, orgID, false)
}

func (s *Store) manages(ctx context.Context, managerID, orgID string, operator bool) (bool, error) {
	if !vigil.IsUUID(orgID) || !vigil.IsUUID(managerID) || managerID == orgID {
		return false, nil
	}
	mgr, err := s.FindOrganizationByID(ctx, managerID)
	if err != nil {
		return false, err
	}
	cur := orgID
	for depth := 0; depth < maxPartnerDepth; depth++ {
		row := new(organizationRow)
		if err := s.db.NewSelect().Model(row).Column("id", "partner_id").Where("id = ?", cur).Scan(ctx); err != nil {
			if isNoRows(err) {
				return false, nil
			}
			return false, err
		}
		if depth == 0 && operator && mgr.IsOperator() {
			return true, nil
		}
		if row.PartnerID == "" {
			return false, nil
		}
		if row.PartnerID == managerID {
			return true, nil
		}
		cur = row.PartnerID
	}
	return false, nil
}

// SetPartner makes an organization a partner or takes that away (refused
// while it manages customers).
func (s *Store) SetPartner(ctx context.Context, orgID string, partner bool) error {
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if !partner {
			if n, err := tx.NewSelect().Model((*organizationRow)(nil)).Where("partner_id = ?", orgID).Count(ctx); err != nil {
				return err
			} else if n > 0 {
				return vigil.Errorf(vigil.ECONFLICT, "the organization still manages %d customer organizations", n)
			}
		}
		return affected(ctx, tx.NewUpdate().Model((*organizationRow)(nil)).Set("is_partner = ?", partner).Set("updated_at = ?", s.now()).
			Where("id = ?", orgID), "organization")
	})
}

type planRow struct {
	bun.BaseModel   `bun:"table:plans,alias:plans"`
	ID              string    `bun:"id,pk"`
	OrganizationID  string    `bun:"organization_id"`
	Code            string    `bun:"code"`
	Name            string    `bun:"name"`
	Description     string    `bun:"description"`
	Product         string    `bun:"product"`
	IsDefault       bool      `bun:"is_default"`
	DefaultInterval string    `bun:"default_interval"`
	Features        string    `bun:"features"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
}

func (r *planRow) domain() *vigil.Plan {
	return &vigil.Plan{ID: r.ID, OrganizationID: r.OrganizationID, Code: r.Code, Name: r.Name, Description: r.Description,
		Product: vigil.Product(r.Product), IsDefault: r.IsDefault, DefaultInterval: r.DefaultInterval,
		Features: decodeFeatures(r.Features), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

func decodeFeatures(s string) map[string]int64 {
	m := map[string]int64{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

func encodeFeatures(m map[string]int64) string {
	if m == nil {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// CreatePlan adds a plan to a partner's catalogue.
func (s *Store) CreatePlan(ctx context.Context, orgID string, in vigil.PlanInput) (*vigil.Plan, error) {
	now := s.now()
	row := &planRow{ID: vigil.NewID(), OrganizationID: orgID, Code: *in.Code, Name: *in.Name, Product: string(*in.Product),
		DefaultInterval: "monthly", Features: encodeFeatures(in.Features), CreatedAt: now, UpdatedAt: now}
	if in.Description != nil {
		row.Description = *in.Description
	}
	if in.DefaultInterval != nil {
		row.DefaultInterval = *in.DefaultInterval
	}
	if in.IsDefault != nil {
		row.IsDefault = *in.IsDefault
	}
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if n, err := tx.NewSelect().Model((*planRow)(nil)).Where("organization_id = ? AND code = ?", orgID, row.Code).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return vigil.FieldError("plan.code", "has already been taken")
		}
		if row.IsDefault {
			if _, err := tx.NewUpdate().Model((*planRow)(nil)).Set("is_default = ?", false).
				Where("organization_id = ? AND product = ?", orgID, row.Product).Exec(ctx); err != nil {
				return err
			}
		}
		_, err := tx.NewInsert().Model(row).Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// UpdatePlan changes a plan; features given replace those of the same name.
func (s *Store) UpdatePlan(ctx context.Context, orgID, id string, in vigil.PlanInput) (*vigil.Plan, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("plan")
	}
	row := new(planRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := tx.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID).Scan(ctx); err != nil {
			return notFound(err, "plan")
		}
		if in.Code != nil && *in.Code != row.Code {
			return vigil.FieldError("plan.code", "cannot be changed")
		}
		if in.Product != nil && string(*in.Product) != row.Product {
			return vigil.FieldError("plan.product", "cannot be changed")
		}
		if in.Name != nil {
			row.Name = *in.Name
		}
		if in.Description != nil {
			row.Description = *in.Description
		}
		if in.DefaultInterval != nil {
			row.DefaultInterval = *in.DefaultInterval
		}
		if in.IsDefault != nil {
			if *in.IsDefault && !row.IsDefault {
				if _, err := tx.NewUpdate().Model((*planRow)(nil)).Set("is_default = ?", false).
					Where("organization_id = ? AND product = ?", orgID, row.Product).Exec(ctx); err != nil {
					return err
				}
			}
			row.IsDefault = *in.IsDefault
		}
		f := decodeFeatures(row.Features)
		for k, v := range in.Features {
			f[k] = v
		}
		row.Features, row.UpdatedAt = encodeFeatures(f), s.now()
		_, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// ListPlans lists a partner's plans.
func (s *Store) ListPlans(ctx context.Context, orgID string) ([]*vigil.Plan, error) {
	var rows []*planRow
	err := s.db.NewSelect().Model(&rows).Where("organization_id = ?", orgID).OrderExpr("product, code").Limit(1000).Scan(ctx)
	return domains(rows), err
}

// FindPlan returns one of orgID's plans.
func (s *Store) FindPlan(ctx context.Context, orgID, id string) (*vigil.Plan, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("plan")
	}
	row := new(planRow)
	if err := s.db.NewSelect().Model(row).Where("id = ? AND organization_id = ?", id, orgID).Scan(ctx); err != nil {
		return nil, notFound(err, "plan")
	}
	return row.domain(), nil
}

// DeletePlan deletes a plan nobody subscribes to.
func (s *Store) DeletePlan(ctx context.Context, orgID, id string) error {
	if !vigil.IsUUID(id) {
		return vigil.NotFound("plan")
	}
	return s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if n, err := tx.NewSelect().Model((*subscriptionRow)(nil)).Where("plan_id = ?", id).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "%d subscriptions use this plan", n)
		}
		return affected(ctx, tx.NewDelete().Model((*planRow)(nil)).Where("id = ? AND organization_id = ?", id, orgID), "plan")
	})
}

type subscriptionRow struct {
	bun.BaseModel  `bun:"table:subscriptions,alias:subscriptions"`
	ID             string     `bun:"id,pk"`
	OrganizationID string     `bun:"organization_id"`
	PlanID         string     `bun:"plan_id"`
	Product        string     `bun:"product"`
	Status         string     `bun:"status"`
	Interval       string     `bun:"interval"`
	StartDate      time.Time  `bun:"start_date"`
	EndDate        *time.Time `bun:"end_date"`
	Price          float64    `bun:"price"`
	TrialEnabled   bool       `bun:"trial_enabled"`
	Features       string     `bun:"features"`
	CreatedAt      time.Time  `bun:"created_at"`
	UpdatedAt      time.Time  `bun:"updated_at"`
	Plan           *planRow   `bun:"rel:belongs-to,join:plan_id=id"`
}

func (r *subscriptionRow) domain() *vigil.Subscription {
	sub := &vigil.Subscription{ID: r.ID, OrganizationID: r.OrganizationID, PlanID: r.PlanID, Product: vigil.Product(r.Product),
		Status: r.Status, Interval: r.Interval, StartDate: r.StartDate, EndDate: r.EndDate, Price: r.Price,
		TrialEnabled: r.TrialEnabled, Overrides: decodeFeatures(r.Features), CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Features: map[string]int64{}}
	if r.Plan != nil {
		sub.PlanCode, sub.PlanName = r.Plan.Code, r.Plan.Name
		sub.Features = decodeFeatures(r.Plan.Features)
	}
	for k, v := range sub.Overrides {
		sub.Features[k] = v
	}
	return sub
}

// partnerPlan finds the plan with code among those org may subscribe to:
// its partner's, or its own when it has no partner.
func (s *Store) partnerPlan(ctx context.Context, db bun.IDB, org *vigil.Organization, code string) (*planRow, error) {
	seller := org.PartnerID
	if seller == "" {
		seller = org.ID
	}
	p := new(planRow)
	q := db.NewSelect().Model(p).Where("organization_id = ?", seller)
	if vigil.IsUUID(code) {
		q = q.Where("id = ?", code)
	} else {
		q = q.Where("code = ?", code)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, notFound(err, "plan")
	}
	return p, nil
}

func (s *Store) subscribeTx(ctx context.Context, tx bun.Tx, orgID string, p *planRow, in vigil.SubscribeInput) (*subscriptionRow, error) {
	now := s.now()
	interval := in.Interval
	if interval == "" {
		interval = p.DefaultInterval
	}
	start := now
	if in.StartDate != nil {
		start = in.StartDate.UTC()
	}
	end := in.EndDate
	if end == nil {
		switch interval {
		case "monthly":
			e := start.AddDate(0, 1, 0)
			end = &e
		case "yearly":
			e := start.AddDate(1, 0, 0)
			end = &e
		}
	}
	if n, err := tx.NewSelect().Model((*subscriptionRow)(nil)).
		Where("organization_id = ? AND product = ? AND status = ?", orgID, p.Product, vigil.SubActive).Count(ctx); err != nil {
		return nil, err
	} else if n > 0 {
		return nil, vigil.FieldError("plan", "the organization already has an active %s subscription", p.Product)
	}
	row := &subscriptionRow{ID: vigil.NewID(), OrganizationID: orgID, PlanID: p.ID, Product: p.Product, Status: vigil.SubActive,
		Interval: interval, StartDate: start, EndDate: end, Features: "{}", CreatedAt: now, UpdatedAt: now, Plan: p}
	_, err := tx.NewInsert().Model(row).Exec(ctx)
	return row, err
}

// Subscribe subscribes orgID to a plan of its partner.
func (s *Store) Subscribe(ctx context.Context, orgID string, in vigil.SubscribeInput) (*vigil.Subscription, error) {
	org, err := s.FindOrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	var row *subscriptionRow
	err = s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		p, err := s.partnerPlan(ctx, tx, org, in.Plan)
		if err != nil {
			return vigil.FieldError("plan", "no plan with code %q", in.Plan)
		}
		row, err = s.subscribeTx(ctx, tx, orgID, p, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// Unsubscribe cancels the active subscription of a plan (code or id, or subscription id).
func (s *Store) Unsubscribe(ctx context.Context, orgID, plan string) (*vigil.Subscription, error) {
	row := new(subscriptionRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		q := tx.NewSelect().Model(row).Relation("Plan").Where("subscriptions.organization_id = ? AND subscriptions.status = ?", orgID, vigil.SubActive)
		if vigil.IsUUID(plan) {
			q = q.Where("subscriptions.id = ? OR subscriptions.plan_id = ?", plan, plan)
		} else {
			q = q.Where("plan.code = ?", plan)
		}
		if err := q.Limit(1).Scan(ctx); err != nil {
			return notFound(err, "subscription")
		}
		row.Status, row.UpdatedAt = vigil.SubCanceled, s.now()
		_, err := tx.NewUpdate().Model(row).Column("status", "updated_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// ListSubscriptions lists an organization's subscriptions, newest first.
func (s *Store) ListSubscriptions(ctx context.Context, orgID string, activeOnly bool) ([]*vigil.Subscription, error) {
	var rows []*subscriptionRow
	q := s.db.NewSelect().Model(&rows).Relation("Plan").Where("subscriptions.organization_id = ?", orgID)
	if activeOnly {
		q = q.Where("subscriptions.status = ?", vigil.SubActive)
	}
	err := q.OrderExpr("subscriptions.created_at DESC").Limit(1000).Scan(ctx)
	return domains(rows), err
}

// FindSubscription returns one subscription of orgID.
func (s *Store) FindSubscription(ctx context.Context, orgID, id string) (*vigil.Subscription, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("subscription")
	}
	row := new(subscriptionRow)
	if err := loadSubscription(ctx, s.db, row, orgID, id); err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// loadSubscription reads one of orgID's subscriptions, with its plan, into row.
func loadSubscription(ctx context.Context, db bun.IDB, row *subscriptionRow, orgID, id string) error {
	err := db.NewSelect().Model(row).Relation("Plan").Where("subscriptions.id = ? AND subscriptions.organization_id = ?", id, orgID).Scan(ctx)
	return notFound(err, "subscription")
}

// UpdateSubscription changes status, end date, price or trial.
func (s *Store) UpdateSubscription(ctx context.Context, orgID, id string, in vigil.SubscriptionUpdate) (*vigil.Subscription, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("subscription")
	}
	row := new(subscriptionRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := loadSubscription(ctx, tx, row, orgID, id); err != nil {
			return err
		}
		if in.Status != nil && *in.Status == vigil.SubActive && row.Status != vigil.SubActive {
			if n, err := tx.NewSelect().Model((*subscriptionRow)(nil)).
				Where("organization_id = ? AND product = ? AND status = ? AND id <> ?", orgID, row.Product, vigil.SubActive, id).Count(ctx); err != nil {
				return err
			} else if n > 0 {
				return vigil.FieldError("subscription.status", "the organization already has an active %s subscription", row.Product)
			}
		}
		if in.Status != nil {
			row.Status = *in.Status
		}
		if in.ClearEndDate {
			row.EndDate = nil
		} else if in.EndDate != nil {
			e := in.EndDate.UTC()
			row.EndDate = &e
		}
		if in.Price != nil {
			row.Price = *in.Price
		}
		if in.TrialEnabled != nil {
			row.TrialEnabled = *in.TrialEnabled
		}
		row.UpdatedAt = s.now()
		_, err := tx.NewUpdate().Model(row).WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// SetSubscriptionFeature assigns or (value nil) revokes one feature on a subscription.
func (s *Store) SetSubscriptionFeature(ctx context.Context, orgID, id, feature string, value *int64) (*vigil.Subscription, error) {
	if !vigil.IsUUID(id) {
		return nil, vigil.NotFound("subscription")
	}
	row := new(subscriptionRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := loadSubscription(ctx, tx, row, orgID, id); err != nil {
			return err
		}
		f := decodeFeatures(row.Features)
		if value == nil {
			delete(f, feature)
		} else {
			f[feature] = *value
		}
		row.Features, row.UpdatedAt = encodeFeatures(f), s.now()
		_, err := tx.NewUpdate().Model(row).Column("features", "updated_at").WherePK().Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

// DependentSubscriptions lists subscriptions to plans partnerID sells, held by other organizations.
func (s *Store) DependentSubscriptions(ctx context.Context, partnerID string) ([]*vigil.Subscription, error) {
	var rows []*subscriptionRow
	err := s.db.NewSelect().Model(&rows).Relation("Plan").
		Where("plan.organization_id = ? AND subscriptions.organization_id <> ?", partnerID, partnerID).
		OrderExpr("subscriptions.created_at DESC").Limit(5000).Scan(ctx)
	return domains(rows), err
}

// Limits returns orgID's effective features.
func (s *Store) Limits(ctx context.Context, orgID string, now time.Time) (vigil.Limits, error) {
	return s.limits(ctx, s.db, orgID, now)
}

func (s *Store) limits(ctx context.Context, db bun.IDB, orgID string, now time.Time) (vigil.Limits, error) {
	org := new(organizationRow)
	if err := db.NewSelect().Model(org).Where("id = ?", orgID).Scan(ctx); err != nil {
		return vigil.Limits{}, notFound(err, "organization")
	}
	if org.PartnerID == "" {
		return vigil.Limits{}, nil
	}
	var rows []*subscriptionRow
	if err := db.NewSelect().Model(&rows).Relation("Plan").
		Where("subscriptions.organization_id = ? AND subscriptions.status = ? AND subscriptions.start_date <= ?", orgID, vigil.SubActive, now.UTC()).
		Where("subscriptions.end_date IS NULL OR subscriptions.end_date > ?", now.UTC()).Scan(ctx); err != nil {
		return vigil.Limits{}, err
	}
	l := vigil.Limits{Limited: true, Features: map[string]int64{}}
	for _, r := range rows {
		for k, v := range r.domain().Features {
			cur, seen := l.Features[k]
			switch {
			case !seen, v == vigil.Unlimited:
				l.Features[k] = v
			case cur != vigil.Unlimited && v > cur:
				l.Features[k] = v
			}
		}
	}
	return l, nil
}

// checkLimit refuses to add n of feature when the organization's plan does
// not allow it. current counts what the organization has now (inside tx).
func (s *Store) checkLimit(ctx context.Context, tx bun.Tx, orgID, feature, what string, n int64, current func() (int64, error)) error {
	l, err := s.limits(ctx, tx, orgID, s.opts.Now())
	if err != nil || !l.Limited {
		return err
	}
	cur, err := current()
	if err != nil {
		return err
	}
	if l.Allows(feature, cur+n) {
		return nil
	}
	if len(l.Features) == 0 {
		return vigil.FieldError(feature, "the organization has no active subscription")
	}
	return vigil.FieldError(feature, "the organization's plan allows %d %s; this would make %d", l.Value(feature), what, cur+n)
}

type whitelabelRow struct {
	bun.BaseModel   `bun:"table:whitelabel_settings"`
	OrganizationID  string    `bun:"organization_id,pk"`
	CompanyName     string    `bun:"company_name"`
	Logo            []byte    `bun:"logo"`
	LogoContentType string    `bun:"logo_content_type"`
	PrimaryColor    string    `bun:"primary_color"`
	SecondaryColor  string    `bun:"secondary_color"`
	SupportEmail    string    `bun:"support_email"`
	EmailFromName   string    `bun:"email_from_name"`
	Domain          string    `bun:"domain,nullzero"`
	ReportBranding  bool      `bun:"report_branding"`
	UpdatedAt       time.Time `bun:"updated_at"`
}

func (r *whitelabelRow) domain() *vigil.Whitelabel {
	return &vigil.Whitelabel{OrganizationID: r.OrganizationID, CompanyName: r.CompanyName, Logo: r.Logo, LogoContentType: r.LogoContentType,
		PrimaryColor: r.PrimaryColor, SecondaryColor: r.SecondaryColor, SupportEmail: r.SupportEmail, EmailFromName: r.EmailFromName,
		Domain: r.Domain, ReportBranding: r.ReportBranding, UpdatedAt: r.UpdatedAt}
}

// Whitelabel returns orgID's own branding, else its nearest partner's.
func (s *Store) Whitelabel(ctx context.Context, orgID string) (*vigil.Whitelabel, error) {
	cur := orgID
	for depth := 0; depth < maxPartnerDepth && cur != ""; depth++ {
		row := new(whitelabelRow)
		err := s.db.NewSelect().Model(row).Where("organization_id = ?", cur).Scan(ctx)
		if err == nil {
			return row.domain(), nil
		} else if !isNoRows(err) {
			return nil, err
		}
		org := new(organizationRow)
		if err := s.db.NewSelect().Model(org).Column("partner_id").Where("id = ?", cur).Scan(ctx); err != nil {
			return nil, notFound(err, "whitelabel settings")
		}
		cur = org.PartnerID
	}
	return nil, vigil.NotFound("whitelabel settings")
}

// WhitelabelByDomain returns the settings whose custom domain is domain.
func (s *Store) WhitelabelByDomain(ctx context.Context, domain string) (*vigil.Whitelabel, error) {
	row := new(whitelabelRow)
	if err := s.db.NewSelect().Model(row).Where("lower(domain) = lower(?)", domain).Scan(ctx); err != nil {
		return nil, notFound(err, "whitelabel settings")
	}
	return row.domain(), nil
}

// UpdateWhitelabel creates or changes orgID's own settings.
func (s *Store) UpdateWhitelabel(ctx context.Context, orgID string, in vigil.WhitelabelUpdate) (*vigil.Whitelabel, error) {
	row := new(whitelabelRow)
	err := s.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		err := tx.NewSelect().Model(row).Where("organization_id = ?", orgID).Scan(ctx)
		if isNoRows(err) {
			row = &whitelabelRow{OrganizationID: orgID, ReportBranding: true}
		} else if err != nil {
			return err
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&row.CompanyName, in.CompanyName)
		set(&row.PrimaryColor, in.PrimaryColor)
		set(&row.SecondaryColor, in.SecondaryColor)
		set(&row.SupportEmail, in.SupportEmail)
		set(&row.EmailFromName, in.EmailFromName)
		if in.Domain != nil {
			if *in.Domain != "" {
				if n, err := tx.NewSelect().Model((*whitelabelRow)(nil)).
					Where("lower(domain) = ? AND organization_id <> ?", *in.Domain, orgID).Count(ctx); err != nil {
					return err
				} else if n > 0 {
					return vigil.FieldError("whitelabel_setting.domain", "is used by another organization")
				}
			}
			row.Domain = *in.Domain
		}
		if in.ReportBranding != nil {
			row.ReportBranding = *in.ReportBranding
		}
		if in.Logo != nil {
			row.Logo, row.LogoContentType = in.Logo, in.LogoContentType
			if len(in.Logo) == 0 {
				row.Logo, row.LogoContentType = nil, ""
			}
		}
		row.UpdatedAt = s.now()
		_, err = tx.NewInsert().Model(row).On("CONFLICT (organization_id) DO UPDATE").
			Set("company_name = EXCLUDED.company_name, logo = EXCLUDED.logo, logo_content_type = EXCLUDED.logo_content_type").
			Set("primary_color = EXCLUDED.primary_color, secondary_color = EXCLUDED.secondary_color").
			Set("support_email = EXCLUDED.support_email, email_from_name = EXCLUDED.email_from_name, domain = EXCLUDED.domain").
			Set("report_branding = EXCLUDED.report_branding, updated_at = EXCLUDED.updated_at").Exec(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return row.domain(), nil
}

var _ vigil.TenancyService = (*Store)(nil)
