package vigil

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Product is what a plan sells and what a user works in (CG app_type).
type Product string

// Products.
const (
	ProductPCI         Product = "pci"
	ProductVRMS        Product = "vrms"
	ProductPenetration Product = "penetration"
)

// Products lists every product.
var Products = []Product{ProductPCI, ProductVRMS, ProductPenetration}

// Valid reports whether p is a known product.
func (p Product) Valid() bool { return p == ProductPCI || p == ProductVRMS || p == ProductPenetration }

// Feature names. A feature's value is a number; Unlimited means no limit.
const (
	FeatureMaxIPs   = "max_ips"  // addresses all the organization's targets may hold together
	FeatureRescans  = "rescans"  // runs of a scan after its first completed one (0: none)
	FeatureScanners = "scanners" // scanner nodes the organization may register
	FeatureUsers    = "users"    // users the organization may have
)

// Features lists the enforced features.
var Features = []string{FeatureMaxIPs, FeatureRescans, FeatureScanners, FeatureUsers}

// Unlimited is the value of a feature without limit.
const Unlimited int64 = -1

// Limits are an organization's effective features. Limited is false for an
// organization without a partner (self-hosted: no plan needed); a customer
// with no active subscription gets zero of everything.
type Limits struct {
	Limited  bool
	Features map[string]int64
}

// Allows reports whether using n of feature stays within the limit.
func (l Limits) Allows(feature string, n int64) bool {
	if !l.Limited {
		return true
	}
	v, ok := l.Features[feature]
	if !ok {
		return false
	}
	return v == Unlimited || n <= v
}

// Value is the limit of feature (Unlimited when not limited).
func (l Limits) Value(feature string) int64 {
	if !l.Limited {
		return Unlimited
	}
	return l.Features[feature]
}

// Intervals of a subscription.
var Intervals = []string{"none", "monthly", "yearly"}

// Subscription statuses.
const (
	SubActive   = "active"
	SubInactive = "inactive"
	SubCanceled = "canceled"
)

// Plan is something a partner sells: a product with features.
type Plan struct {
	ID              string
	OrganizationID  string // the partner that sells it
	Code            string
	Name            string
	Description     string
	Product         Product
	IsDefault       bool
	DefaultInterval string
	Features        map[string]int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// PlanInput creates or changes a plan.
type PlanInput struct {
	Code            *string
	Name            *string
	Description     *string
	Product         *Product
	IsDefault       *bool
	DefaultInterval *string
	Features        map[string]int64
}

var planCode = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Validate checks the fields that are set; create requires code, name, product and max_ips.
func (in *PlanInput) Validate(create bool) error {
	v := NewValidation("plan")
	if create {
		for f, set := range map[string]bool{"code": in.Code != nil, "name": in.Name != nil, "product": in.Product != nil} {
			if !set {
				v.Add(f, "can't be blank")
			}
		}
		if _, ok := in.Features[FeatureMaxIPs]; !ok {
			v.Add("features.max_ips", "is required for every plan")
		}
	}
	if in.Code != nil && !planCode.MatchString(*in.Code) {
		v.Add("code", "must be 1 to 64 lowercase letters, digits, '_', '.', '-'")
	}
	if in.Name != nil {
		checkText(v, "name", *in.Name, MaxNameLen, true)
	}
	if in.Description != nil {
		checkText(v, "description", *in.Description, MaxCommentLen, false)
	}
	if in.Product != nil && !in.Product.Valid() {
		v.Addf("product", "must be one of pci, vrms, penetration; got %q", *in.Product)
	}
	if in.DefaultInterval != nil && !validInterval(*in.DefaultInterval) {
		v.Addf("default_interval", "must be one of none, monthly, yearly; got %q", *in.DefaultInterval)
	}
	checkFeatures(v, "features", in.Features)
	return v.Err()
}

func validInterval(s string) bool { return s == "none" || s == "monthly" || s == "yearly" }

// ValidInterval reports whether s is a subscription interval.
func ValidInterval(s string) bool { return validInterval(s) }

func checkFeatures(v *Validation, field string, f map[string]int64) {
	for k, n := range f {
		known := false
		for _, x := range Features {
			known = known || x == k
		}
		if !known {
			v.Addf(field+"."+k, "unknown feature; known: %s", strings.Join(Features, ", "))
		} else if n < Unlimited {
			v.Addf(field+"."+k, "must be -1 (unlimited) or at least 0")
		}
	}
}

// CheckFeatures validates a feature map for field.
func CheckFeatures(v *Validation, field string, f map[string]int64) { checkFeatures(v, field, f) }

// Subscription is an organization's subscription to a plan.
type Subscription struct {
	ID             string
	OrganizationID string
	PlanID         string
	PlanCode       string
	PlanName       string
	Product        Product
	Status         string
	Interval       string
	StartDate      time.Time
	EndDate        *time.Time
	Price          float64
	TrialEnabled   bool
	Features       map[string]int64 // the plan's, with this subscription's own assignments applied
	Overrides      map[string]int64 // assigned to this subscription only
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// SubscribeInput subscribes an organization to a plan (by code, among the
// plans of the organization's partner).
type SubscribeInput struct {
	Plan      string
	Interval  string
	StartDate *time.Time
	EndDate   *time.Time
}

// Validate checks a subscription request.
func (in *SubscribeInput) Validate(field string) error {
	v := NewValidation(field)
	if in.Plan == "" {
		v.Add("plan", "can't be blank")
	}
	if in.Interval != "" && !validInterval(in.Interval) {
		v.Addf("interval", "must be one of none, monthly, yearly; got %q", in.Interval)
	}
	if in.StartDate != nil && in.EndDate != nil && !in.EndDate.After(*in.StartDate) {
		v.Add("end_date", "must be after start_date")
	}
	return v.Err()
}

// SubscriptionUpdate changes a subscription; nil fields are kept.
type SubscriptionUpdate struct {
	Status       *string
	EndDate      *time.Time
	ClearEndDate bool
	Price        *float64
	TrialEnabled *bool
}

// OrganizationInput creates an organization.
type OrganizationInput struct {
	Name      string
	PartnerID string
	IsPartner bool
	// SkipDefaultSubscription leaves out the partner's default plans; Plans
	// are then required.
	SkipDefaultSubscription bool
	Plans                   []SubscribeInput
}

// Validate checks a new organization.
func (in *OrganizationInput) Validate() error {
	v := NewValidation("organization")
	in.Name = strings.TrimSpace(in.Name)
	checkText(v, "name", in.Name, MaxNameLen, true)
	if in.SkipDefaultSubscription && len(in.Plans) == 0 {
		v.Add("plans", "are required with skip_default_subscription")
	}
	for i, p := range in.Plans {
		if err := p.Validate(""); err != nil {
			for k, msgs := range FieldsOf(err) {
				for _, m := range msgs {
					v.Add(fmt.Sprintf("plans[%d].%s", i, strings.TrimPrefix(k, ".")), m)
				}
			}
		}
	}
	return v.Err()
}

// OrganizationList is what GET /v2/organizations filters and sorts on.
var OrganizationList = ListSpec{
	Filters:     map[string]FilterKind{"name": FilterText, "partner_id": FilterExact},
	Sorts:       []string{"name", "created_at", "updated_at"},
	DefaultSort: []Sort{{Column: "name"}},
	DateColumn:  "created_at",
}

// Whitelabel is a partner's branding; customers inherit their partner's.
type Whitelabel struct {
	OrganizationID  string
	CompanyName     string
	Logo            []byte
	LogoContentType string
	PrimaryColor    string
	SecondaryColor  string
	SupportEmail    string
	EmailFromName   string
	Domain          string
	ReportBranding  bool
	UpdatedAt       time.Time
}

// WhitelabelUpdate changes settings; nil fields are kept.
type WhitelabelUpdate struct {
	CompanyName     *string
	Logo            []byte // nil: keep; empty (non-nil): remove
	LogoContentType string
	PrimaryColor    *string
	SecondaryColor  *string
	SupportEmail    *string
	EmailFromName   *string
	Domain          *string
	ReportBranding  *bool
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
var domainName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// MaxLogoBytes caps an uploaded logo.
const MaxLogoBytes = 512 << 10

// Validate checks the fields that are set.
func (in *WhitelabelUpdate) Validate() error {
	v := NewValidation("whitelabel_setting")
	if in.CompanyName != nil {
		checkText(v, "company_name", *in.CompanyName, MaxNameLen, false)
	}
	for f, c := range map[string]*string{"primary_color": in.PrimaryColor, "secondary_color": in.SecondaryColor} {
		if c != nil && *c != "" && !hexColor.MatchString(*c) {
			v.Add(f, "must be a colour like #1a2b3c")
		}
	}
	if in.SupportEmail != nil && *in.SupportEmail != "" {
		e, ok := NormalizeEmail(*in.SupportEmail)
		if !ok {
			v.Add("support_email", "is not a valid e-mail address")
		}
		in.SupportEmail = &e
	}
	if in.EmailFromName != nil {
		checkText(v, "email_from_name", *in.EmailFromName, MaxNameLen, false)
	}
	if in.Domain != nil && *in.Domain != "" {
		d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(*in.Domain), "."))
		if !domainName.MatchString(d) || len(d) > 253 {
			v.Add("domain", "must be a host name such as scan.example.com")
		}
		in.Domain = &d
	}
	if in.Logo != nil && len(in.Logo) > MaxLogoBytes {
		v.Addf("logo", "is larger than %d KiB", MaxLogoBytes>>10)
	}
	return v.Err()
}

// TenancyService holds organizations, partners, plans, subscriptions and whitelabel.
type TenancyService interface {
	// CreateOrganizationFull creates an organization with its subscriptions
	// (the partner's default plans, or in.Plans) and, when firstUser is set,
	// its first user, in one transaction.
	CreateOrganizationFull(ctx context.Context, in OrganizationInput, firstUser *UserInput, passwordHash string) (*Organization, *User, error)
	UpdateOrganization(ctx context.Context, id string, name string) (*Organization, error)
	// DeleteOrganization deletes an organization and everything in it;
	// ECONFLICT while it still manages customers.
	DeleteOrganization(ctx context.Context, id string) error
	// ListOrganizations lists the organizations managerID manages and itself
	// (every organization for the operator).
	ListOrganizations(ctx context.Context, managerID string, opts ListOptions) ([]*Organization, int, error)
	// Manages reports whether managerID is orgID's partner (or an ancestor
	// partner, or the operator).
	Manages(ctx context.Context, managerID, orgID string) (bool, error)
	// PartnerOf is Manages without the operator's blanket management: the
	// partner chain only (an API key of a partner may carry its customers' tokens).
	PartnerOf(ctx context.Context, partnerID, orgID string) (bool, error)
	SetPartner(ctx context.Context, orgID string, partner bool) error
	// ManagedOrganizationIDs lists the organizations managerID manages, itself included.
	ManagedOrganizationIDs(ctx context.Context, managerID string) ([]string, error)

	CreatePlan(ctx context.Context, orgID string, in PlanInput) (*Plan, error)
	UpdatePlan(ctx context.Context, orgID, id string, in PlanInput) (*Plan, error)
	ListPlans(ctx context.Context, orgID string) ([]*Plan, error)
	FindPlan(ctx context.Context, orgID, id string) (*Plan, error)
	DeletePlan(ctx context.Context, orgID, id string) error

	// Subscribe subscribes orgID to a plan of its partner (or of its own,
	// for the operator). ECONFLICT if the product already has an active one.
	Subscribe(ctx context.Context, orgID string, in SubscribeInput) (*Subscription, error)
	// Unsubscribe cancels the active subscription of the plan with this code or id.
	Unsubscribe(ctx context.Context, orgID, plan string) (*Subscription, error)
	ListSubscriptions(ctx context.Context, orgID string, activeOnly bool) ([]*Subscription, error)
	FindSubscription(ctx context.Context, orgID, id string) (*Subscription, error)
	UpdateSubscription(ctx context.Context, orgID, id string, in SubscriptionUpdate) (*Subscription, error)
	// SetSubscriptionFeature assigns (value) or revokes (nil) a feature on one subscription.
	SetSubscriptionFeature(ctx context.Context, orgID, id, feature string, value *int64) (*Subscription, error)
	// DependentSubscriptions lists the customers' subscriptions to plans partnerID sells.
	DependentSubscriptions(ctx context.Context, partnerID string) ([]*Subscription, error)
	// Limits returns an organization's effective features at now.
	Limits(ctx context.Context, orgID string, now time.Time) (Limits, error)

	// Whitelabel returns the branding that applies to orgID: its own, else its
	// nearest partner's; ENOTFOUND if none.
	Whitelabel(ctx context.Context, orgID string) (*Whitelabel, error)
	WhitelabelByDomain(ctx context.Context, domain string) (*Whitelabel, error)
	UpdateWhitelabel(ctx context.Context, orgID string, in WhitelabelUpdate) (*Whitelabel, error)
}

// OIDCProvider is an organization's single sign-on configuration. The
// client secret is sealed at rest and never returned by the API.
type OIDCProvider struct {
	OrganizationID string
	Issuer         string
	ClientID       string
	ClientSecret   string
	GroupsClaim    string // the ID token claim listing the user's IdP groups
	Enabled        bool
	UpdatedAt      time.Time
}

// SSOService stores OIDC provider settings.
type SSOService interface {
	// SetOIDCProvider creates or replaces the organization's provider; an
	// empty ClientSecret keeps the stored one.
	SetOIDCProvider(ctx context.Context, p *OIDCProvider) error
	// FindOIDCProvider returns the provider with its secret opened.
	FindOIDCProvider(ctx context.Context, orgID string) (*OIDCProvider, error)
	DeleteOIDCProvider(ctx context.Context, orgID string) error
}
