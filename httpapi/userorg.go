package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// The current user's organization, products, plans and account (CG §3.15).

func (s *Server) handleMyOrganization(ctx context.Context, _ *struct{}) (*OrganizationOutput, error) {
	_, _, org, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return organizationOutput(org), nil
}

// MyOrganizationInput is PUT /v2/user/organization.
type MyOrganizationInput struct {
	Body struct {
		Organization struct {
			Name string `json:"name" maxLength:"255"`
		} `json:"organization"`
	}
}

func (s *Server) handleUpdateMyOrganization(ctx context.Context, in *MyOrganizationInput) (*OrganizationOutput, error) {
	p, err := permit(ctx, vigil.PermOrganization)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.renameOrganization(ctx, p.OrganizationID, in.Body.Organization.Name)
}

func (s *Server) handleMembers(ctx context.Context, in *struct{ ListParams }) (*ListOutput[UserResource], error) {
	_, _, org, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.UserList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	users, total, err := s.Accounts.ListUsers(ctx, []string{org.ID}, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(users, func(u *vigil.User) UserResource { return userResource(u, org) }, opts, total), nil
}

// ProductJSON is a product and whether the user can work in it.
type ProductJSON struct {
	Code      string `json:"code" enum:"pci,vrms,penetration"`
	Name      string `json:"name"`
	Available bool   `json:"available" doc:"The organization has an active subscription for it (always, without a partner)"`
	Active    bool   `json:"active" doc:"The user's active_product"`
}

var productNames = map[vigil.Product]string{vigil.ProductPCI: "PCI ASV Scanning", vigil.ProductVRMS: "Vulnerability Risk Management",
	vigil.ProductPenetration: "Penetration Testing"}

// products lists the products and which the organization may use.
func (s *Server) products(ctx context.Context, u *vigil.User, org *vigil.Organization) ([]ProductJSON, error) {
	avail := map[vigil.Product]bool{}
	if org.PartnerID == "" {
		for _, p := range vigil.Products {
			avail[p] = true
		}
	} else {
		subs, err := s.Tenancy.ListSubscriptions(ctx, org.ID, true)
		if err != nil {
			return nil, err
		}
		for _, sub := range subs {
			avail[sub.Product] = true
		}
	}
	out := make([]ProductJSON, len(vigil.Products))
	for i, p := range vigil.Products {
		out[i] = ProductJSON{Code: string(p), Name: productNames[p], Available: avail[p], Active: u.ActiveProduct == p}
	}
	return out, nil
}

func (s *Server) handleProducts(ctx context.Context, _ *struct{}) (*DataOutput[[]ProductJSON], error) {
	_, u, org, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out, err := s.products(ctx, u, org)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(out), nil
}

// ChangeProductInput is PUT /v2/user/product.
type ChangeProductInput struct {
	Product string `query:"product" doc:"The product code (also accepted in the body)"`
	Body    *struct {
		Product string `json:"product"`
	} `required:"false"`
}

func (s *Server) handleChangeProduct(ctx context.Context, in *ChangeProductInput) (*UserOutput, error) {
	p, u, org, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	code := in.Product
	if code == "" && in.Body != nil {
		code = in.Body.Product
	}
	prods, err := s.products(ctx, u, org)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ok := false
	for _, pr := range prods {
		if pr.Code == code {
			if !pr.Available {
				return nil, fail(ctx, s.log, vigil.FieldError("product", "your organization has no active %s subscription", code))
			}
			ok = true
		}
	}
	if !ok {
		return nil, fail(ctx, s.log, vigil.FieldError("product", "must be one of pci, vrms, penetration; got %q", code))
	}
	prod := vigil.Product(code)
	if u, err = s.Accounts.UpdateUser(ctx, p.OrganizationID, p.UserID, vigil.UserUpdate{ActiveProduct: &prod}); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.change_product", "user", u.ID, map[string]any{"active_product": code})
	return s.userOutput(u, org), nil
}

// handleMyPlans lists the plans of the organization's active subscriptions.
func (s *Server) handleMyPlans(ctx context.Context, _ *struct{}) (*DataOutput[[]SubscriptionJSON], error) {
	p, err := permit(ctx, vigil.PermSubscriptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.listSubscriptions(ctx, p.OrganizationID, true)
}

func (s *Server) handleSubscriptionHistory(ctx context.Context, _ *struct{}) (*DataOutput[[]SubscriptionJSON], error) {
	p, err := permit(ctx, vigil.PermSubscriptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.listSubscriptions(ctx, p.OrganizationID, false)
}

func (s *Server) handleCanDeleteMe(ctx context.Context, _ *struct{}) (*CanDeleteOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out, err := s.deletable(ctx, p, u, true)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return out, nil
}

// DeleteMeInput is DELETE /v2/user/me.
type DeleteMeInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" maxLength:"1024" doc:"Deleting an account needs its password"`
		TransferTo      string `json:"transfer_to,omitempty" doc:"A user of the organization who inherits your targets, scans, credentials and port lists; without it they stay with the organization, ownerless"`
	}
}

// handleDeleteMe deletes the caller's account after checking its password.
// The last admin of an organization cannot leave it without an admin.
func (s *Server) handleDeleteMe(ctx context.Context, in *DeleteMeInput) (*StatusOutput, error) {
	p, u, _, err := s.me(ctx)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.checkLock(ctx, "acct:"+u.Email); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if u.PasswordHash == "" || s.cfg.PasswordVerifier(in.Body.CurrentPassword, u.PasswordHash) != nil {
		if lerr := s.countFailure(ctx, u.OrganizationID, u.ID, u.Email, "current_password", false); lerr != nil {
			return nil, fail(ctx, s.log, lerr)
		}
		return nil, fail(ctx, s.log, vigil.FieldError("current_password", "is incorrect"))
	}
	if err := s.deleteUser(ctx, p, u, in.Body.TransferTo, true); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return statusOK(), nil
}

// TransferInput is PUT /v2/user/transfer_resources.
type TransferInput struct {
	Body struct {
		FromUserID string `json:"from_user_id"`
		ToUserID   string `json:"to_user_id"`
	}
}

func (s *Server) handleTransferResources(ctx context.Context, in *TransferInput) (*TransferOutput, error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.transfer(ctx, p.OrganizationID, in.Body.FromUserID, in.Body.ToUserID, "to_user_id")
}
