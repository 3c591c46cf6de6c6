package httpapi

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"mime/multipart"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/message"
)

// Users administration (CG §3.17). An admin manages the users of its
// organization; a partner admin also those of the customers it manages.
// Anyone else's user is "not found".

// adminOrg checks that the caller may administer users of orgID ("" is its
// own organization) and returns the organization.
func (s *Server) adminOrg(ctx context.Context, p *vigil.Principal, orgID string) (*vigil.Organization, error) {
	if orgID == "" || orgID == p.OrganizationID {
		return s.Accounts.FindOrganizationByID(ctx, p.OrganizationID)
	}
	if !p.Has(vigil.PermCustomers) || !vigil.IsUUID(orgID) {
		return nil, vigil.NotFound("organization")
	}
	ok, err := s.Tenancy.Manages(ctx, p.OrganizationID, orgID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, vigil.NotFound("organization")
	}
	return s.Accounts.FindOrganizationByID(ctx, orgID)
}

// orgNames resolves the organizations of a page of users in one query.
func (s *Server) orgNames(ctx context.Context, users []*vigil.User) (map[string]*vigil.Organization, error) {
	seen := map[string]bool{}
	var ids []string
	for _, u := range users {
		if !seen[u.OrganizationID] {
			seen[u.OrganizationID] = true
			ids = append(ids, u.OrganizationID)
		}
	}
	return s.Accounts.FindOrganizationsByIDs(ctx, ids)
}

// visibleOrgIDs are the organizations whose users the caller lists.
func (s *Server) visibleOrgIDs(ctx context.Context, p *vigil.Principal) ([]string, error) {
	if !p.Has(vigil.PermCustomers) {
		return []string{p.OrganizationID}, nil
	}
	return s.Tenancy.ManagedOrganizationIDs(ctx, p.OrganizationID)
}

func (s *Server) handleUserList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[UserResource], error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.UserList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ids, err := s.visibleOrgIDs(ctx, p)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	users, total, err := s.Accounts.ListUsers(ctx, ids, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	orgs, err := s.orgNames(ctx, users)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(users, func(u *vigil.User) UserResource { return userResource(u, orgs[u.OrganizationID]) }, opts, total), nil
}

// managedUser is a user the caller administers, with its organization.
func (s *Server) managedUser(ctx context.Context, id string) (*vigil.Principal, *vigil.User, *vigil.Organization, error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := s.findManagedUser(ctx, p, id)
	if err != nil {
		return nil, nil, nil, err
	}
	org, err := s.Accounts.FindOrganizationByID(ctx, u.OrganizationID)
	return p, u, org, err
}

func (s *Server) userOutput(u *vigil.User, org *vigil.Organization) *UserOutput {
	out := &UserOutput{}
	out.Body.Data = userResource(u, org)
	return out
}

func (s *Server) handleUserShow(ctx context.Context, in *IDPath) (*UserOutput, error) {
	_, u, org, err := s.managedUser(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.userOutput(u, org), nil
}

// UserCreateFields are what an administrator sets on a new user.
type UserCreateFields struct {
	Email            string  `json:"email" maxLength:"254" example:"ana@example.com"`
	Name             string  `json:"name,omitempty" maxLength:"255"`
	Username         string  `json:"username,omitempty" maxLength:"255" doc:"Alias of name"`
	Role             string  `json:"role,omitempty" enum:"admin,manager,user,viewer,Admin,Manager,User,Viewer" doc:"Default user"`
	OrganizationID   string  `json:"organization_id,omitempty" doc:"A customer organization (partner admins); default: yours"`
	Locale           string  `json:"locale,omitempty" maxLength:"10"`
	Timezone         string  `json:"timezone,omitempty" maxLength:"64"`
	ActiveProduct    string  `json:"active_product,omitempty" enum:"pci,vrms,penetration"`
	Password         string  `json:"password,omitempty" maxLength:"1024" doc:"Without it the user chooses one from the confirmation e-mail"`
	SkipConfirmation bool    `json:"skip_confirmation,omitempty" doc:"Confirm the address now instead of sending a confirmation e-mail (needs a password)"`
	Phone            *string `json:"phone,omitempty" hidden:"true"`
}

func (f UserCreateFields) input(invited bool) vigil.UserInput {
	name := f.Name
	if name == "" {
		name = f.Username
	}
	role := vigil.Role(strings.ToLower(f.Role))
	if role == "" {
		role = vigil.RoleUser
	}
	return vigil.UserInput{Email: f.Email, Name: name, Role: role, Password: f.Password, Locale: f.Locale, Timezone: f.Timezone,
		Product: vigil.Product(f.ActiveProduct), Unconfirmed: !f.SkipConfirmation || invited, Invited: invited || f.Password == ""}
}

// UserCreateInput is POST /v2/users.
type UserCreateInput struct {
	Body struct {
		User UserCreateFields `json:"user"`
	}
}

// createUser creates a user in org and sends the confirmation (or, without a
// password, the invitation) e-mail.
func (s *Server) createUser(ctx context.Context, org *vigil.Organization, in vigil.UserInput, action string) (*vigil.User, error) {
	if in.Password == "" && !in.Unconfirmed {
		return nil, vigil.FieldError("user.password", "is required with skip_confirmation")
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.Unconfirmed && s.Messages == nil {
		return nil, vigil.FieldError("user.email", "this server has no e-mail delivery configured; send skip_confirmation with a password")
	}
	hash := ""
	if in.Password != "" {
		var err error
		if hash, err = s.cfg.PasswordHasher(in.Password); err != nil {
			return nil, err
		}
	}
	u, err := s.Accounts.CreateUser(ctx, org.ID, in, hash)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, action, "user", u.ID, map[string]any{"email": u.Email, "role": string(u.Role), "organization_id": org.ID})
	if in.Unconfirmed {
		if err := s.sendWelcome(ctx, u, org); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// sendWelcome sends an unconfirmed user its link: an invitation when it has
// no password yet, a confirmation otherwise.
func (s *Server) sendWelcome(ctx context.Context, u *vigil.User, org *vigil.Organization) error {
	inviter := ""
	if p := vigil.PrincipalFromContext(ctx); p != nil {
		if me, err := s.Accounts.FindUserAnywhere(ctx, p.UserID); err == nil {
			inviter = displayName(me)
		}
	}
	extra := map[string]string{"organization": org.Name, "inviter": inviter}
	if u.PasswordHash == "" {
		return s.sendLink(ctx, u, vigil.PurposeInvite, message.TemplateInvite, "/accept-invitation?invitation_token=", s.cfg.InviteTTL, extra)
	}
	return s.sendLink(ctx, u, vigil.PurposeConfirm, message.TemplateConfirm, "/confirm?confirmation_token=", s.cfg.ConfirmTTL, extra)
}

func (s *Server) handleUserCreate(ctx context.Context, in *UserCreateInput) (*UserOutput, error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	org, err := s.adminOrg(ctx, p, in.Body.User.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	u, err := s.createUser(ctx, org, in.Body.User.input(false), "user.create")
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.userOutput(u, org), nil
}

// InviteInput is POST /v2/users/invite.
type InviteInput struct {
	Body struct {
		Email          string `json:"email" maxLength:"254"`
		Name           string `json:"name,omitempty" maxLength:"255"`
		Role           string `json:"role,omitempty" enum:"admin,manager,user,viewer,Admin,Manager,User,Viewer"`
		OrganizationID string `json:"organization_id,omitempty"`
		ActiveProduct  string `json:"active_product,omitempty" enum:"pci,vrms,penetration"`
	}
}

func (s *Server) handleUserInvite(ctx context.Context, in *InviteInput) (*UserOutput, error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body
	org, err := s.adminOrg(ctx, p, b.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	f := UserCreateFields{Email: b.Email, Name: b.Name, Role: b.Role, ActiveProduct: b.ActiveProduct}
	u, err := s.createUser(ctx, org, f.input(true), "user.invite")
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.userOutput(u, org), nil
}

func (s *Server) handleResendConfirmation(ctx context.Context, in *IDPath) (*StatusOutput, error) {
	_, u, org, err := s.managedUser(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if u.ConfirmedAt != nil {
		return nil, fail(ctx, s.log, vigil.FieldError("user", "is already confirmed"))
	}
	if err := s.sendWelcome(ctx, u, org); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.resend_confirmation", "user", u.ID, nil)
	return statusOK(), nil
}

// UserUpdateFields are what an administrator changes on a user.
type UserUpdateFields struct {
	Email          *string `json:"email,omitempty" maxLength:"254"`
	Name           *string `json:"name,omitempty" maxLength:"255"`
	Username       *string `json:"username,omitempty" maxLength:"255"`
	Role           *string `json:"role,omitempty" enum:"admin,manager,user,viewer,Admin,Manager,User,Viewer"`
	OrganizationID *string `json:"organization_id,omitempty" doc:"Move the user to another organization you manage"`
	Locale         *string `json:"locale,omitempty" maxLength:"10"`
	Timezone       *string `json:"timezone,omitempty" maxLength:"64"`
	ActiveProduct  *string `json:"active_product,omitempty" enum:"pci,vrms,penetration"`
}

// UserUpdateInput is PUT /v2/users/{id}.
type UserUpdateInput struct {
	IDPath
	Body struct {
		User UserUpdateFields `json:"user"`
	}
}

func (s *Server) handleUserUpdate(ctx context.Context, in *UserUpdateInput) (*UserOutput, error) {
	p, u, org, err := s.managedUser(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body.User
	upd := vigil.UserUpdate{Email: b.Email, Name: b.Name, Locale: b.Locale, Timezone: b.Timezone}
	if upd.Name == nil {
		upd.Name = b.Username
	}
	if b.Role != nil {
		r := vigil.Role(strings.ToLower(*b.Role))
		upd.Role = &r
	}
	if b.ActiveProduct != nil {
		pr := vigil.Product(*b.ActiveProduct)
		upd.ActiveProduct = &pr
	}
	if err := upd.Validate(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if upd.Role != nil && *upd.Role != vigil.RoleAdmin && u.Role == vigil.RoleAdmin {
		if err := s.keepOneAdmin(ctx, u, "user.role"); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	if upd.Role != nil && u.ID == p.UserID && *upd.Role != u.Role {
		return nil, fail(ctx, s.log, vigil.FieldError("user.role", "you cannot change your own role"))
	}
	if u, err = s.Accounts.UpdateUser(ctx, u.OrganizationID, u.ID, upd); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	changes := changedFields(map[string]bool{"email": b.Email != nil, "name": upd.Name != nil, "role": b.Role != nil, "locale": b.Locale != nil,
		"timezone": b.Timezone != nil, "active_product": b.ActiveProduct != nil})
	if b.Role != nil {
		changes["role"] = string(u.Role)
	}
	s.audit(ctx, "user.update", "user", u.ID, changes)
	if b.OrganizationID != nil && *b.OrganizationID != u.OrganizationID {
		if u, org, err = s.moveUser(ctx, p, u, *b.OrganizationID); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	return s.userOutput(u, org), nil
}

// keepOneAdmin refuses to take away an organization's last confirmed admin.
func (s *Server) keepOneAdmin(ctx context.Context, u *vigil.User, field string) error {
	if u.Role != vigil.RoleAdmin || u.ConfirmedAt == nil {
		return nil
	}
	n, err := s.Accounts.CountAdmins(ctx, u.OrganizationID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return vigil.FieldError(field, "is the organization's last admin")
	}
	return nil
}

// moveUser moves u to toOrg (which the caller must administer too).
func (s *Server) moveUser(ctx context.Context, p *vigil.Principal, u *vigil.User, toOrg string) (*vigil.User, *vigil.Organization, error) {
	org, err := s.adminOrg(ctx, p, toOrg)
	if err != nil {
		return nil, nil, err
	}
	if u.ID == p.UserID {
		return nil, nil, vigil.FieldError("user_id", "you cannot move yourself")
	}
	if err := s.keepOneAdmin(ctx, u, "user_id"); err != nil {
		return nil, nil, err
	}
	from := u.OrganizationID
	if err := s.Accounts.MoveUser(ctx, u.ID, org.ID); err != nil {
		return nil, nil, err
	}
	s.audit(ctx, "user.move", "user", u.ID, map[string]any{"from_organization_id": from, "to_organization_id": org.ID})
	u, err = s.Accounts.FindUserByID(ctx, org.ID, u.ID)
	return u, org, err
}

// CanDeleteOutput says whether a user can be deleted, and why not.
type CanDeleteOutput struct {
	Body struct {
		Data CanDeleteJSON `json:"data"`
	}
}

// CanDeleteJSON is the can-delete verdict.
type CanDeleteJSON struct {
	CanDelete bool                 `json:"can_delete"`
	Reasons   []string             `json:"reasons"`
	Resources vigil.ResourceCounts `json:"resources" doc:"What the user owns; it stays with the organization (or goes to transfer_to)"`
}

// deletable lists why u cannot be deleted by the caller.
func (s *Server) deletable(ctx context.Context, p *vigil.Principal, u *vigil.User, self bool) (*CanDeleteOutput, error) {
	out := &CanDeleteOutput{}
	d := &out.Body.Data
	d.Reasons = []string{}
	if !self && u.ID == p.UserID {
		d.Reasons = append(d.Reasons, "you cannot delete yourself here; use DELETE /v2/user/me")
	}
	if p.ImpersonatorID != "" && self {
		d.Reasons = append(d.Reasons, "an impersonated session cannot delete the account")
	}
	if err := s.keepOneAdmin(ctx, u, "user"); err != nil {
		if vigil.ErrorCode(err) != vigil.EINVALID {
			return nil, err
		}
		d.Reasons = append(d.Reasons, "the organization's last admin cannot be deleted")
	}
	var err error
	if d.Resources, err = s.Accounts.OwnedResources(ctx, u.OrganizationID, u.ID); err != nil {
		return nil, err
	}
	d.CanDelete = len(d.Reasons) == 0
	return out, nil
}

func (s *Server) handleUserCanDelete(ctx context.Context, in *IDPath) (*CanDeleteOutput, error) {
	p, u, _, err := s.managedUser(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out, err := s.deletable(ctx, p, u, false)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return out, nil
}

// UserDeleteInput is DELETE /v2/users/{id}.
type UserDeleteInput struct {
	IDPath
	TransferTo string `query:"transfer_to" doc:"A user of the same organization who inherits what the deleted user owns; without it the resources stay with the organization, ownerless"`
}

func (s *Server) handleUserDelete(ctx context.Context, in *UserDeleteInput) (*StatusOutput, error) {
	p, u, _, err := s.managedUser(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.deleteUser(ctx, p, u, in.TransferTo, false); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return statusOK(), nil
}

// deleteUser deletes u after the can-delete checks, handing its resources
// to transferTo first when given.
func (s *Server) deleteUser(ctx context.Context, p *vigil.Principal, u *vigil.User, transferTo string, self bool) error {
	chk, err := s.deletable(ctx, p, u, self)
	if err != nil {
		return err
	}
	if !chk.Body.Data.CanDelete {
		return vigil.FieldError("user", "%s", strings.Join(chk.Body.Data.Reasons, "; "))
	}
	changes := map[string]any{"email": u.Email, "resources": chk.Body.Data.Resources}
	if transferTo != "" {
		if transferTo == u.ID {
			return vigil.FieldError("transfer_to", "is the user being deleted")
		}
		if _, err := s.Accounts.TransferResources(ctx, u.OrganizationID, u.ID, transferTo); err != nil {
			if vigil.ErrorCode(err) == vigil.ENOTFOUND {
				return vigil.FieldError("transfer_to", "is not a user of the same organization")
			}
			return err
		}
		changes["transfer_to"] = transferTo
	}
	if err := s.Accounts.DeleteUser(ctx, u.OrganizationID, u.ID); err != nil {
		return err
	}
	s.audit(ctx, "user.delete", "user", u.ID, changes)
	return nil
}

// InheritInput is PUT /v2/users/{id}/inherit_resources.
type InheritInput struct {
	IDPath
	Body struct {
		FromUserID string `json:"from_user_id" doc:"The user whose resources the user {id} takes over (same organization)"`
	}
}

// TransferOutput reports what changed owner.
type TransferOutput struct {
	Body struct {
		Data vigil.ResourceCounts `json:"data"`
	}
}

func (s *Server) handleUserInherit(ctx context.Context, in *InheritInput) (*TransferOutput, error) {
	_, u, _, err := s.managedUser(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.transfer(ctx, u.OrganizationID, in.Body.FromUserID, u.ID, "from_user_id")
}

func (s *Server) transfer(ctx context.Context, orgID, from, to, field string) (*TransferOutput, error) {
	if from == to {
		return nil, fail(ctx, s.log, vigil.FieldError(field, "is the same user"))
	}
	c, err := s.Accounts.TransferResources(ctx, orgID, from, to)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		err = vigil.FieldError(field, "is not a user of the same organization")
	}
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.transfer_resources", "user", to, map[string]any{"from_user_id": from, "to_user_id": to, "moved": c})
	out := &TransferOutput{}
	out.Body.Data = c
	return out, nil
}

// handleSetPartner makes the user's organization a partner (it may then
// manage customers of its own); unset reverses it. Only the organization's
// own partner may do either, never for itself.
func (s *Server) handleSetPartner(ctx context.Context, in *IDPath) (*UserOutput, error) {
	return s.setPartner(ctx, in.ID, true)
}

func (s *Server) handleUnsetPartner(ctx context.Context, in *IDPath) (*UserOutput, error) {
	return s.setPartner(ctx, in.ID, false)
}

func (s *Server) setPartner(ctx context.Context, id string, partner bool) (*UserOutput, error) {
	p, err := permit(ctx, vigil.PermCustomers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	_, u, org, err := s.managedUser(ctx, id)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if u.OrganizationID == p.OrganizationID {
		return nil, fail(ctx, s.log, vigil.Errorf(vigil.EFORBIDDEN, "you cannot change your own organization's partner status"))
	}
	if err := s.Tenancy.SetPartner(ctx, u.OrganizationID, partner); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	action := "organization.set_partner"
	if !partner {
		action = "organization.unset_partner"
	}
	s.audit(ctx, action, "organization", u.OrganizationID, map[string]any{"user_id": u.ID})
	org.IsPartner = partner
	return s.userOutput(u, org), nil
}

// maxImportRows bounds one CSV import.
const maxImportRows = 5000

// ImportInput is POST /v2/users/import: a multipart form with the CSV in
// "file" and, optionally, "organization_id".
type ImportInput struct {
	RawBody multipart.Form
}

// ImportOutput lists the users created.
type ImportOutput struct {
	Body struct {
		Data []UserResource `json:"data"`
		Meta ImportMeta     `json:"meta"`
	}
}

// ImportMeta counts the users imported.
type ImportMeta struct {
	Imported int `json:"imported"`
}

// importColumns are the CSV header names understood; email is required.
var importColumns = []string{"email", "name", "role", "locale", "timezone", "active_product"}

// handleUserImport validates every row first: one bad row rejects the file
// with the line numbers of every problem, and nothing is created. The users
// are invited: each gets an invitation e-mail to choose a password.
func (s *Server) handleUserImport(ctx context.Context, in *ImportInput) (*ImportOutput, error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	orgID := ""
	if v := in.RawBody.Value["organization_id"]; len(v) > 0 {
		orgID = v[0]
	}
	org, err := s.adminOrg(ctx, p, orgID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	files := in.RawBody.File["file"]
	if len(files) != 1 {
		return nil, fail(ctx, s.log, vigil.FieldError("file", "send exactly one CSV file in the form field \"file\""))
	}
	f, err := files[0].Open()
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	defer f.Close()
	inputs, err := parseUserCSV(f)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if s.Messages == nil {
		return nil, fail(ctx, s.log, vigil.FieldError("file", "this server has no e-mail delivery configured; imported users could not be invited"))
	}
	users, err := s.Accounts.ImportUsers(ctx, org.ID, inputs, make([]string, len(inputs)))
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.import", "organization", org.ID, map[string]any{"imported": len(users)})
	out := &ImportOutput{}
	out.Body.Data = make([]UserResource, len(users))
	for i, u := range users {
		// The users exist now; a failed e-mail is retried by resend_confirmation.
		if err := s.sendWelcome(ctx, u, org); err != nil {
			s.log.ErrorContext(ctx, "import: invitation not sent", "user_id", u.ID, "err", err)
		}
		out.Body.Data[i] = userResource(u, org)
	}
	out.Body.Meta.Imported = len(users)
	return out, nil
}

// parseUserCSV reads and validates an import file; errors carry the line.
func parseUserCSV(r io.Reader) ([]vigil.UserInput, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return nil, vigil.FieldError("file", "is not a CSV file with a header line")
	}
	col := map[string]int{}
	v := vigil.NewValidation("")
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		known := false
		for _, c := range importColumns {
			known = known || c == h
		}
		if !known {
			v.Addf("file.line_1", "unknown column %q; known: %s", h, strings.Join(importColumns, ", "))
		}
		col[h] = i
	}
	if _, ok := col["email"]; !ok {
		v.Add("file.line_1", "the header has no email column")
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	var out []vigil.UserInput
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		field := fmt.Sprintf("file.line_%d", line)
		if err != nil {
			v.Add(field, "is not valid CSV: "+err.Error())
			break
		}
		if len(out) == maxImportRows {
			v.Addf("file", "has more than %d rows", maxImportRows)
			break
		}
		get := func(name string) string {
			if i, ok := col[name]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		role := strings.ToLower(get("role"))
		if role == "" {
			role = string(vigil.RoleUser)
		}
		in := vigil.UserInput{Email: get("email"), Name: get("name"), Role: vigil.Role(role), Locale: get("locale"), Timezone: get("timezone"),
			Product: vigil.Product(get("active_product")), Unconfirmed: true, Invited: true}
		if err := in.Validate(); err != nil {
			for k, msgs := range vigil.FieldsOf(err) {
				for _, m := range msgs {
					v.Add(field+"."+strings.TrimPrefix(k, "user."), m)
				}
			}
			continue
		}
		if first, dup := seen[in.Email]; dup {
			v.Addf(field+".email", "repeats line %d", first)
			continue
		}
		seen[in.Email] = line
		out = append(out, in)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, vigil.FieldError("file", "has no users")
	}
	return out, nil
}

// csvCell defuses spreadsheet formulas: a cell that starts with = + - @ or
// a control character is prefixed with a quote (OWASP CSV injection).
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// streamCSV writes a CSV attachment row by row; rows returns false when done.
func streamCSV(filename string, header []string, rows func(w func([]string) error) error) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hc huma.Context) {
		hc.SetHeader("Content-Type", "text/csv; charset=utf-8")
		hc.SetHeader("Content-Disposition", `attachment; filename="`+filename+`"`)
		hc.SetStatus(200)
		w := csv.NewWriter(hc.BodyWriter())
		_ = w.Write(header)
		err := rows(func(rec []string) error {
			for i := range rec {
				rec[i] = csvCell(rec[i])
			}
			return w.Write(rec)
		})
		w.Flush()
		if err != nil {
			// Headers are gone; a truncated file with a marker is all we can do.
			_, _ = io.WriteString(hc.BodyWriter(), "# export failed: "+err.Error()+"\n")
		}
	}}
}

// exportPageSize bounds memory while streaming exports.
const exportPageSize = 500

func (s *Server) handleUserExport(ctx context.Context, _ *struct{}) (*huma.StreamResponse, error) {
	p, err := permit(ctx, vigil.PermUsers)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ids, err := s.visibleOrgIDs(ctx, p)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.export", "organization", p.OrganizationID, nil)
	header := []string{"id", "email", "name", "role", "organization_id", "organization", "active_product", "locale", "timezone",
		"confirmed", "two_factor", "created_at", "last_sign_in_at"}
	return streamCSV("users.csv", header, func(write func([]string) error) error {
		for page := 1; ; page++ {
			opts := vigil.ListOptions{Page: page, PerPage: exportPageSize, Sort: []vigil.Sort{{Column: "created_at"}}}
			users, _, err := s.Accounts.ListUsers(ctx, ids, opts)
			if err != nil {
				return err
			}
			orgs, err := s.orgNames(ctx, users)
			if err != nil {
				return err
			}
			for _, u := range users {
				last := ""
				if u.LastSignInAt != nil {
					last = ts(*u.LastSignInAt).String()
				}
				if err := write([]string{u.ID, u.Email, u.Name, u.Role.Display(), u.OrganizationID, orgs[u.OrganizationID].Name,
					string(u.ActiveProduct), u.Locale, u.Timezone, fmt.Sprint(u.ConfirmedAt != nil), fmt.Sprint(u.MFAEnabled()),
					ts(u.CreatedAt).String(), last}); err != nil {
					return err
				}
			}
			if len(users) < exportPageSize {
				return nil
			}
		}
	}), nil
}
