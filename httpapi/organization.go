package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
)

// Organizations, subscriptions and plans (CG §3.16). A partner admin manages
// the organizations it is partner of (the operator: all); every other caller
// sees its own organization only. Anything else is "not found".

// OrganizationJSON is an organization on the wire.
type OrganizationJSON struct {
	ID        string    `json:"id" format:"uuid"`
	Name      string    `json:"name"`
	PartnerID *string   `json:"partner_id" nullable:"true" doc:"The partner that manages it"`
	IsPartner bool      `json:"is_partner" doc:"It manages customer organizations"`
	CreatedAt Timestamp `json:"created_at"`
	UpdatedAt Timestamp `json:"updated_at"`
}

func organizationJSON(o *vigil.Organization) OrganizationJSON {
	return OrganizationJSON{ID: o.ID, Name: o.Name, PartnerID: orNil(o.PartnerID), IsPartner: o.IsPartner, CreatedAt: ts(o.CreatedAt), UpdatedAt: ts(o.UpdatedAt)}
}

// SubscriptionJSON is a subscription on the wire.
type SubscriptionJSON struct {
	ID               string           `json:"id" format:"uuid"`
	OrganizationID   string           `json:"organization_id" format:"uuid"`
	Plan             string           `json:"plan" doc:"Plan code"`
	PlanID           string           `json:"plan_id" format:"uuid"`
	PlanName         string           `json:"plan_name"`
	Product          string           `json:"product" enum:"pci,vrms,penetration"`
	Status           string           `json:"status" enum:"active,inactive,canceled"`
	Interval         string           `json:"interval" enum:"none,monthly,yearly"`
	StartDate        Timestamp        `json:"start_date"`
	EndDate          *Timestamp       `json:"end_date" nullable:"true"`
	Price            float64          `json:"price"`
	TrialEnabled     bool             `json:"trial_enabled"`
	Features         map[string]int64 `json:"features" doc:"Effective features: the plan's with this subscription's assignments; -1 is unlimited"`
	FeatureOverrides map[string]int64 `json:"feature_overrides" doc:"Features assigned to this subscription only"`
	CreatedAt        Timestamp        `json:"created_at"`
	UpdatedAt        Timestamp        `json:"updated_at"`
}

func subscriptionJSON(s *vigil.Subscription) SubscriptionJSON {
	return SubscriptionJSON{ID: s.ID, OrganizationID: s.OrganizationID, Plan: s.PlanCode, PlanID: s.PlanID, PlanName: s.PlanName,
		Product: string(s.Product), Status: s.Status, Interval: s.Interval, StartDate: ts(s.StartDate), EndDate: tsp(s.EndDate),
		Price: s.Price, TrialEnabled: s.TrialEnabled, Features: s.Features, FeatureOverrides: s.Overrides,
		CreatedAt: ts(s.CreatedAt), UpdatedAt: ts(s.UpdatedAt)}
}

// PlanJSON is a plan on the wire.
type PlanJSON struct {
	ID              string           `json:"id" format:"uuid"`
	Code            string           `json:"code"`
	Name            string           `json:"name"`
	Description     string           `json:"description"`
	Product         string           `json:"product" enum:"pci,vrms,penetration"`
	IsDefault       bool             `json:"is_default"`
	DefaultInterval string           `json:"default_interval" enum:"none,monthly,yearly"`
	Features        map[string]int64 `json:"features" doc:"max_ips, rescans, scanners, users; -1 is unlimited"`
	CreatedAt       Timestamp        `json:"created_at"`
	UpdatedAt       Timestamp        `json:"updated_at"`
}

func planJSON(p *vigil.Plan) PlanJSON {
	return PlanJSON{ID: p.ID, Code: p.Code, Name: p.Name, Description: p.Description, Product: string(p.Product), IsDefault: p.IsDefault,
		DefaultInterval: p.DefaultInterval, Features: p.Features, CreatedAt: ts(p.CreatedAt), UpdatedAt: ts(p.UpdatedAt)}
}

// orgAccess returns organization id if the caller may see it (write: change
// it). Its own organization needs perm; another needs customers.manage and
// a partner relation.
func (s *Server) orgAccess(ctx context.Context, id string, perm vigil.Permission) (*vigil.Principal, *vigil.Organization, error) {
	p, err := permit(ctx, vigil.PermRead)
	if err != nil {
		return nil, nil, err
	}
	if id == p.OrganizationID {
		if !p.Has(perm) {
			return nil, nil, vigil.Errorf(vigil.EFORBIDDEN, "your role (%s) may not do this", vigil.RoleName(p.Role, p.Partner))
		}
		o, err := s.Accounts.FindOrganizationByID(ctx, id)
		return p, o, err
	}
	if !p.Has(vigil.PermCustomers) {
		return nil, nil, vigil.NotFound("organization")
	}
	o, err := s.adminOrg(ctx, p, id)
	return p, o, err
}

// customerOrg is an organization the caller manages as a partner, never its
// own (the operator excepted: it sells to itself).
func (s *Server) customerOrg(ctx context.Context, id string) (*vigil.Principal, *vigil.Organization, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, nil, err
	}
	o, err := s.adminOrg(ctx, p, id)
	if err != nil {
		return nil, nil, err
	}
	if o.ID == p.OrganizationID && !o.IsOperator() {
		return nil, nil, vigil.Errorf(vigil.EFORBIDDEN, "your own organization's subscriptions are managed by your partner")
	}
	return p, o, nil
}

func (s *Server) handleOrganizationList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[OrganizationJSON], error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.OrganizationList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	orgs, total, err := s.Tenancy.ListOrganizations(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(orgs, organizationJSON, opts, total), nil
}

// PlanRef is a plan to subscribe to.
type PlanRef struct {
	Plan      string     `json:"plan" maxLength:"100" doc:"Plan code (or id)"`
	Interval  string     `json:"interval,omitempty" enum:"none,monthly,yearly" doc:"Default: the plan's default interval"`
	StartDate *time.Time `json:"start_date,omitempty"`
	EndDate   *time.Time `json:"end_date,omitempty" doc:"Default: one interval after start_date"`
}

func (r PlanRef) input() vigil.SubscribeInput {
	return vigil.SubscribeInput{Plan: r.Plan, Interval: r.Interval, StartDate: r.StartDate, EndDate: r.EndDate}
}

// OrganizationFields create an organization.
type OrganizationFields struct {
	Name                    string    `json:"name" maxLength:"255"`
	IsPartner               bool      `json:"is_partner,omitempty" doc:"The new organization manages customers of its own"`
	SkipDefaultSubscription bool      `json:"skip_default_subscription,omitempty" doc:"Do not subscribe to your default plans; plans is then required"`
	Plans                   []PlanRef `json:"plans,omitempty" maxItems:"10" doc:"One active subscription per product: later plans for a covered product are ignored"`
}

func (f OrganizationFields) input(partnerID string) vigil.OrganizationInput {
	in := vigil.OrganizationInput{Name: f.Name, PartnerID: partnerID, IsPartner: f.IsPartner, SkipDefaultSubscription: f.SkipDefaultSubscription}
	for _, pl := range f.Plans {
		in.Plans = append(in.Plans, pl.input())
	}
	return in
}

// OrganizationCreateInput is POST /v2/organizations.
type OrganizationCreateInput struct {
	Body struct {
		Organization OrganizationFields `json:"organization"`
	}
}

// OrganizationOutput wraps one organization.
type OrganizationOutput struct {
	Body struct {
		Data OrganizationJSON `json:"data"`
	}
}

func organizationOutput(o *vigil.Organization) *OrganizationOutput {
	out := &OrganizationOutput{}
	out.Body.Data = organizationJSON(o)
	return out
}

func (s *Server) handleOrganizationCreate(ctx context.Context, in *OrganizationCreateInput) (*OrganizationOutput, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	oi := in.Body.Organization.input(p.OrganizationID)
	if err := oi.Validate(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	org, _, err := s.Tenancy.CreateOrganizationFull(ctx, oi, nil, "")
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.create", "organization", org.ID, map[string]any{"name": org.Name, "is_partner": org.IsPartner})
	return organizationOutput(org), nil
}

// CustomerInput is POST /v2/users/customer: the New Customer wizard.
type CustomerInput struct {
	Body struct {
		User         UserCreateFields   `json:"user"`
		Organization OrganizationFields `json:"organization"`
	}
}

// CustomerOutput is the new organization and its first user.
type CustomerOutput struct {
	Body struct {
		Data CustomerJSON `json:"data"`
	}
}

// CustomerJSON is a new customer: its organization and first user.
type CustomerJSON struct {
	Organization OrganizationJSON `json:"organization"`
	User         UserResource     `json:"user"`
}

// handleCustomerCreate creates a customer organization, its subscriptions
// and its first user (an admin unless told otherwise) in one transaction;
// the user then gets its confirmation or invitation e-mail.
func (s *Server) handleCustomerCreate(ctx context.Context, in *CustomerInput) (*CustomerOutput, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	oi := in.Body.Organization.input(p.OrganizationID)
	f := in.Body.User
	if f.Role == "" {
		f.Role = string(vigil.RoleAdmin)
	}
	ui := f.input(false)
	v := vigil.NewValidation("")
	for _, err := range []error{oi.Validate(), ui.Validate()} {
		for k, msgs := range vigil.FieldsOf(err) {
			for _, m := range msgs {
				v.Add(k, m)
			}
		}
	}
	if ui.Password == "" && !ui.Unconfirmed {
		v.Add("user.password", "is required with skip_confirmation")
	}
	if ui.Unconfirmed && s.Messages == nil {
		v.Add("user.email", "this server has no e-mail delivery configured; send skip_confirmation with a password")
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	hash := ""
	if ui.Password != "" {
		if hash, err = s.cfg.PasswordHasher(ui.Password); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	org, u, err := s.Tenancy.CreateOrganizationFull(ctx, oi, &ui, hash)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.create_customer", "organization", org.ID, map[string]any{"name": org.Name, "user_id": u.ID, "email": u.Email})
	if ui.Unconfirmed {
		if err := s.sendWelcome(ctx, u, org); err != nil {
			// The customer exists; resend_confirmation retries the e-mail.
			s.log.ErrorContext(ctx, "customer: welcome e-mail not sent", "user_id", u.ID, "err", err)
		}
	}
	out := &CustomerOutput{}
	out.Body.Data.Organization, out.Body.Data.User = organizationJSON(org), userResource(u, org)
	return out, nil
}

func (s *Server) handleOrganizationShow(ctx context.Context, in *IDPath) (*OrganizationOutput, error) {
	_, o, err := s.orgAccess(ctx, in.ID, vigil.PermRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return organizationOutput(o), nil
}

// OrganizationUpdateInput is PUT /v2/organizations/{id}.
type OrganizationUpdateInput struct {
	IDPath
	Body struct {
		Organization struct {
			Name string `json:"name" maxLength:"255"`
		} `json:"organization"`
	}
}

func (s *Server) handleOrganizationUpdate(ctx context.Context, in *OrganizationUpdateInput) (*OrganizationOutput, error) {
	return s.renameOrganization(ctx, in.ID, in.Body.Organization.Name)
}

func (s *Server) renameOrganization(ctx context.Context, id, name string) (*OrganizationOutput, error) {
	_, o, err := s.orgAccess(ctx, id, vigil.PermOrganization)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	oi := vigil.OrganizationInput{Name: name}
	if err := oi.Validate(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if o, err = s.Tenancy.UpdateOrganization(ctx, o.ID, oi.Name); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.update", "organization", o.ID, map[string]any{"name": o.Name})
	return organizationOutput(o), nil
}

func (s *Server) handleOrganizationDelete(ctx context.Context, in *IDPath) (*StatusOutput, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if in.ID == p.OrganizationID {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "you cannot delete your own organization"))
	}
	o, err := s.adminOrg(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Tenancy.DeleteOrganization(ctx, o.ID); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.delete", "organization", o.ID, map[string]any{"name": o.Name})
	return statusOK(), nil
}

func (s *Server) handleOrganizationExport(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "organization.export", "organization", p.OrganizationID, nil)
	header := []string{"id", "name", "partner_id", "is_partner", "created_at", "updated_at"}
	return streamCSV("organizations.csv", header, func(write func([]string) error) error {
		for page := 1; ; page++ {
			opts := vigil.ListOptions{Page: page, PerPage: exportPageSize, Sort: []vigil.Sort{{Column: "created_at"}}}
			orgs, _, err := s.Tenancy.ListOrganizations(ctx, p.OrganizationID, opts)
			if err != nil {
				return err
			}
			for _, o := range orgs {
				if err := write([]string{o.ID, o.Name, o.PartnerID, fmt.Sprint(o.IsPartner), ts(o.CreatedAt).String(), ts(o.UpdatedAt).String()}); err != nil {
					return err
				}
			}
			if len(orgs) < exportPageSize {
				return nil
			}
		}
	}), nil
}

// SubscribeBody subscribes to a plan.
type SubscribeBody struct {
	PlanRef
}

// SubscribeInput is POST /v2/organizations/{id}/subscribe.
type SubscribeInput struct {
	IDPath
	Body SubscribeBody
}

// SubscriptionOutput wraps one subscription.
type SubscriptionOutput struct {
	Body struct {
		Data SubscriptionJSON `json:"data"`
	}
}

func subscriptionOutput(sub *vigil.Subscription) *SubscriptionOutput {
	out := &SubscriptionOutput{}
	out.Body.Data = subscriptionJSON(sub)
	return out
}

func (s *Server) subscribe(ctx context.Context, orgID string, ref PlanRef) (*SubscriptionOutput, error) {
	si := ref.input()
	if err := si.Validate(""); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sub, err := s.Tenancy.Subscribe(ctx, orgID, si)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		err = vigil.FieldError("plan", "no plan with code %q is offered to this organization", ref.Plan)
	}
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "subscription.create", "subscription", sub.ID, map[string]any{"organization_id": orgID, "plan": sub.PlanCode})
	return subscriptionOutput(sub), nil
}

func (s *Server) handleOrganizationSubscribe(ctx context.Context, in *SubscribeInput) (*SubscriptionOutput, error) {
	_, o, err := s.customerOrg(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.subscribe(ctx, o.ID, in.Body.PlanRef)
}

// SubscribeSelfInput is POST /v2/organizations/subscribe.
type SubscribeSelfInput struct {
	Body SubscribeBody
}

// handleSubscribeSelf lets an organization's admin pick one of its partner's
// plans for a product it has no active subscription for.
func (s *Server) handleSubscribeSelf(ctx context.Context, in *SubscribeSelfInput) (*SubscriptionOutput, error) {
	p, err := permit(ctx, vigil.PermOrganization)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.subscribe(ctx, p.OrganizationID, in.Body.PlanRef)
}

// UnsubscribeInput is POST /v2/organizations/{id}/unsubscribe.
type UnsubscribeInput struct {
	IDPath
	Body struct {
		Plan           string `json:"plan,omitempty" doc:"Plan code"`
		SubscriptionID string `json:"subscription_id,omitempty"`
	}
}

func (s *Server) handleOrganizationUnsubscribe(ctx context.Context, in *UnsubscribeInput) (*SubscriptionOutput, error) {
	_, o, err := s.customerOrg(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ref := in.Body.SubscriptionID
	if ref == "" {
		ref = in.Body.Plan
	}
	if ref == "" {
		return nil, fail(ctx, s.log, vigil.FieldError("plan", "can't be blank (or send subscription_id)"))
	}
	sub, err := s.Tenancy.Unsubscribe(ctx, o.ID, ref)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "subscription.cancel", "subscription", sub.ID, map[string]any{"organization_id": o.ID, "plan": sub.PlanCode})
	return subscriptionOutput(sub), nil
}

// MoveUserInput is PUT /v2/organizations/{id}/move_user: the user of
// organization {id} moves to organization_id.
type MoveUserInput struct {
	IDPath
	Body struct {
		UserID         string `json:"user_id"`
		OrganizationID string `json:"organization_id" doc:"Where the user goes"`
	}
}

func (s *Server) handleMoveUser(ctx context.Context, in *MoveUserInput) (*UserOutput, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	from, err := s.adminOrg(ctx, p, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	u, err := s.Accounts.FindUserByID(ctx, from.ID, in.Body.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	u, to, err := s.moveUser(ctx, p, u, in.Body.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.userOutput(u, to), nil
}

// SubscriptionListInput lists an organization's subscriptions.
type SubscriptionListInput struct {
	OrgID string `path:"org_id"`
}

func (s *Server) listSubscriptions(ctx context.Context, orgID string, active bool) (*DataOutput[[]SubscriptionJSON], error) {
	_, o, err := s.orgAccess(ctx, orgID, vigil.PermSubscriptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	subs, err := s.Tenancy.ListSubscriptions(ctx, o.ID, active)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(subs, subscriptionJSON)), nil
}

func (s *Server) handleSubscriptionList(ctx context.Context, in *SubscriptionListInput) (*DataOutput[[]SubscriptionJSON], error) {
	return s.listSubscriptions(ctx, in.OrgID, false)
}

func (s *Server) handleSubscriptionActive(ctx context.Context, in *SubscriptionListInput) (*DataOutput[[]SubscriptionJSON], error) {
	return s.listSubscriptions(ctx, in.OrgID, true)
}

// SubscriptionPath names one subscription.
type SubscriptionPath struct {
	OrgID string `path:"org_id"`
	SubID string `path:"sub_id"`
}

func (s *Server) handleSubscriptionShow(ctx context.Context, in *SubscriptionPath) (*SubscriptionOutput, error) {
	_, o, err := s.orgAccess(ctx, in.OrgID, vigil.PermSubscriptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sub, err := s.Tenancy.FindSubscription(ctx, o.ID, in.SubID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return subscriptionOutput(sub), nil
}

// SubscriptionUpdateInput is PUT /v2/organizations/{org_id}/subscriptions/{sub_id}.
type SubscriptionUpdateInput struct {
	SubscriptionPath
	Body struct {
		Subscription struct {
			Status       *string    `json:"status,omitempty" enum:"active,inactive,canceled"`
			EndDate      *time.Time `json:"end_date,omitempty" nullable:"true"`
			ClearEndDate bool       `json:"clear_end_date,omitempty" doc:"Remove the end date (never expires)"`
			Price        *float64   `json:"price,omitempty" minimum:"0"`
			TrialEnabled *bool      `json:"trial_enabled,omitempty"`
		} `json:"subscription"`
	}
}

func (s *Server) handleSubscriptionUpdate(ctx context.Context, in *SubscriptionUpdateInput) (*SubscriptionOutput, error) {
	_, o, err := s.customerOrg(ctx, in.OrgID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body.Subscription
	sub, err := s.Tenancy.UpdateSubscription(ctx, o.ID, in.SubID, vigil.SubscriptionUpdate{Status: b.Status, EndDate: b.EndDate,
		ClearEndDate: b.ClearEndDate, Price: b.Price, TrialEnabled: b.TrialEnabled})
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "subscription.update", "subscription", sub.ID, changedFields(map[string]bool{"status": b.Status != nil,
		"end_date": b.EndDate != nil || b.ClearEndDate, "price": b.Price != nil, "trial_enabled": b.TrialEnabled != nil}))
	return subscriptionOutput(sub), nil
}

// FeatureAssignInput is PUT /v2/organizations/{org_id}/subscriptions/{sub_id}/features.
type FeatureAssignInput struct {
	SubscriptionPath
	Body struct {
		Feature string `json:"feature" enum:"max_ips,rescans,scanners,users"`
		Value   int64  `json:"value" minimum:"-1" doc:"-1 is unlimited"`
	}
}

func (s *Server) handleFeatureAssign(ctx context.Context, in *FeatureAssignInput) (*SubscriptionOutput, error) {
	v := in.Body.Value
	return s.setFeature(ctx, in.SubscriptionPath, in.Body.Feature, &v)
}

// FeatureRevokeInput is DELETE /v2/organizations/{org_id}/subscriptions/{sub_id}/features/{feature}.
type FeatureRevokeInput struct {
	SubscriptionPath
	Feature string `path:"feature" enum:"max_ips,rescans,scanners,users"`
}

func (s *Server) handleFeatureRevoke(ctx context.Context, in *FeatureRevokeInput) (*SubscriptionOutput, error) {
	return s.setFeature(ctx, in.SubscriptionPath, in.Feature, nil)
}

func (s *Server) setFeature(ctx context.Context, path SubscriptionPath, feature string, value *int64) (*SubscriptionOutput, error) {
	_, o, err := s.customerOrg(ctx, path.OrgID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sub, err := s.Tenancy.SetSubscriptionFeature(ctx, o.ID, path.SubID, feature, value)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	action := "subscription.feature_assign"
	if value == nil {
		action = "subscription.feature_revoke"
	}
	s.audit(ctx, action, "subscription", sub.ID, map[string]any{"feature": feature, "value": value})
	return subscriptionOutput(sub), nil
}

// FeatureJSON is one effective feature of an organization.
type FeatureJSON struct {
	Name      string `json:"name" enum:"max_ips,rescans,scanners,users"`
	Value     int64  `json:"value" doc:"-1 is unlimited"`
	Unlimited bool   `json:"unlimited"`
}

func (s *Server) handleOrganizationFeatures(ctx context.Context, in *SubscriptionListInput) (*DataOutput[[]FeatureJSON], error) {
	_, o, err := s.orgAccess(ctx, in.OrgID, vigil.PermSubscriptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	l, err := s.Tenancy.Limits(ctx, o.ID, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := make([]FeatureJSON, len(vigil.Features))
	for i, f := range vigil.Features {
		v := l.Value(f)
		out[i] = FeatureJSON{Name: f, Value: v, Unlimited: v == vigil.Unlimited}
	}
	return dataOutput(out), nil
}

// handleOrganizationPlans lists the plans organization {org_id} may
// subscribe to: its partner's (its own, for one without a partner).
func (s *Server) handleOrganizationPlans(ctx context.Context, in *SubscriptionListInput) (*DataOutput[[]PlanJSON], error) {
	_, o, err := s.orgAccess(ctx, in.OrgID, vigil.PermSubscriptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	seller := o.PartnerID
	if seller == "" {
		seller = o.ID
	}
	plans, err := s.Tenancy.ListPlans(ctx, seller)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(plans, planJSON)), nil
}

func (s *Server) handleDependentSubscriptions(ctx context.Context, _ *struct{}) (*DataOutput[[]SubscriptionJSON], error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	subs, err := s.Tenancy.DependentSubscriptions(ctx, p.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(subs, subscriptionJSON)), nil
}

// Plans (partners sell them; not in the CG docs, which manage plans in the portal).

// PlanFields create or change a plan.
type PlanFields struct {
	Code            *string          `json:"code,omitempty" maxLength:"64" example:"pci-100"`
	Name            *string          `json:"name,omitempty" maxLength:"255"`
	Description     *string          `json:"description,omitempty" maxLength:"4000"`
	Product         *string          `json:"product,omitempty" enum:"pci,vrms,penetration"`
	IsDefault       *bool            `json:"is_default,omitempty" doc:"New customers are subscribed to it (one default per product)"`
	DefaultInterval *string          `json:"default_interval,omitempty" enum:"none,monthly,yearly"`
	Features        map[string]int64 `json:"features,omitempty" doc:"max_ips (required), rescans, scanners, users; -1 is unlimited"`
}

func (f PlanFields) input() vigil.PlanInput {
	in := vigil.PlanInput{Code: f.Code, Name: f.Name, Description: f.Description, IsDefault: f.IsDefault, DefaultInterval: f.DefaultInterval, Features: f.Features}
	if f.Product != nil {
		p := vigil.Product(*f.Product)
		in.Product = &p
	}
	return in
}

// PlanUpdateInput is PUT /v2/plans/{id}.
type PlanUpdateInput struct {
	IDPath
	Body struct {
		Plan PlanFields `json:"plan"`
	}
}

// PlanCreateInput is POST /v2/plans.
type PlanCreateInput struct {
	Body struct {
		Plan PlanFields `json:"plan"`
	}
}

// PlanOutput wraps one plan.
type PlanOutput struct {
	Body struct {
		Data PlanJSON `json:"data"`
	}
}

func planOutput(p *vigil.Plan) *PlanOutput {
	out := &PlanOutput{}
	out.Body.Data = planJSON(p)
	return out
}

func (s *Server) handlePlanList(ctx context.Context, _ *struct{}) (*DataOutput[[]PlanJSON], error) {
	p, err := permit(ctx, vigil.PermPlans)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	plans, err := s.Tenancy.ListPlans(ctx, p.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(plans, planJSON)), nil
}

func (s *Server) handlePlanShow(ctx context.Context, in *IDPath) (*PlanOutput, error) {
	p, err := permit(ctx, vigil.PermPlans)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	pl, err := s.Tenancy.FindPlan(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return planOutput(pl), nil
}

func (s *Server) handlePlanCreate(ctx context.Context, in *PlanCreateInput) (*PlanOutput, error) {
	p, err := permit(ctx, vigil.PermPlans)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	pi := in.Body.Plan.input()
	if err := pi.Validate(true); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	pl, err := s.Tenancy.CreatePlan(ctx, p.OrganizationID, pi)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "plan.create", "plan", pl.ID, map[string]any{"code": pl.Code, "features": pl.Features})
	return planOutput(pl), nil
}

func (s *Server) handlePlanUpdate(ctx context.Context, in *PlanUpdateInput) (*PlanOutput, error) {
	p, err := permit(ctx, vigil.PermPlans)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	pi := in.Body.Plan.input()
	if err := pi.Validate(false); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	pl, err := s.Tenancy.UpdatePlan(ctx, p.OrganizationID, in.ID, pi)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "plan.update", "plan", pl.ID, map[string]any{"code": pl.Code, "features": pl.Features})
	return planOutput(pl), nil
}

func (s *Server) handlePlanDelete(ctx context.Context, in *IDPath) (*StatusOutput, error) {
	p, err := permit(ctx, vigil.PermPlans)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Tenancy.DeletePlan(ctx, p.OrganizationID, in.ID); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "plan.delete", "plan", in.ID, nil)
	return statusOK(), nil
}
