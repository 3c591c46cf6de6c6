package httpapi

import (
	"context"
	"sort"

	"github.com/vigilscan/vigil"
)

// Groups: the resource-level access model. Managers and admins (groups.manage)
// manage every group of the organization; other users see the groups they
// belong to. The same operations back /v2/groups and the AttackForge-style
// /api/ss routes (ssapi.go).

// GroupBody creates or changes a group; every field is optional on update.
type GroupBody struct {
	Name                           *string             `json:"name,omitempty" maxLength:"255"`
	GroupOwner                     *string             `json:"group_owner,omitempty" maxLength:"255"`
	PrimaryContactName             *string             `json:"primary_contact_name,omitempty" maxLength:"255"`
	PrimaryContactNumber           *string             `json:"primary_contact_number,omitempty" maxLength:"255"`
	PrimaryContactEmail            *string             `json:"primary_contact_email,omitempty" maxLength:"255"`
	IsDeleted                      *bool               `json:"is_deleted,omitempty" doc:"Archive (true) or restore (false)"`
	CustomFields                   []vigil.CustomField `json:"custom_fields,omitempty" maxItems:"100" doc:"Upserted by key on update"`
	Access                         vigil.GroupAccess   `json:"access,omitempty" doc:"member_admins, sso_1, sso_2; on update each entry carries action upsert or remove"`
	AutoAddProjectRequest          *bool               `json:"auto_add_project_request,omitempty"`
	EnableProjectTeamNotifications *bool               `json:"enable_project_team_notifications,omitempty"`
	EnableProjectTeamNotification  *bool               `json:"enable_project_team_notification,omitempty" doc:"Alias of enable_project_team_notifications"`
	LinkedGroupsView               []string            `json:"linked_groups_view,omitempty" maxItems:"100" doc:"IdP groups whose members get View at SSO sign-in"`
	LinkedGroupsUpload             []string            `json:"linked_groups_upload,omitempty" maxItems:"100"`
	LinkedGroupsEdit               []string            `json:"linked_groups_edit,omitempty" maxItems:"100"`
}

func (b *GroupBody) input() vigil.GroupInput {
	in := vigil.GroupInput{Name: b.Name, GroupOwner: b.GroupOwner, PrimaryContactName: b.PrimaryContactName,
		PrimaryContactNumber: b.PrimaryContactNumber, PrimaryContactEmail: b.PrimaryContactEmail, IsDeleted: b.IsDeleted,
		CustomFields: b.CustomFields, Access: b.Access, AutoAddProjectRequest: b.AutoAddProjectRequest,
		EnableProjectTeamNotifications: b.EnableProjectTeamNotifications}
	if in.EnableProjectTeamNotifications == nil {
		in.EnableProjectTeamNotifications = b.EnableProjectTeamNotification
	}
	for lvl, names := range map[vigil.AccessLevel][]string{vigil.AccessView: b.LinkedGroupsView, vigil.AccessUpload: b.LinkedGroupsUpload, vigil.AccessEdit: b.LinkedGroupsEdit} {
		if names != nil {
			if in.SSOLinks == nil {
				in.SSOLinks = map[vigil.AccessLevel][]string{}
			}
			in.SSOLinks[lvl] = names
		}
	}
	return in
}

// MemberJSON is a member as GetGroup shows it (camelCase keys, as AttackForge).
type MemberJSON struct {
	Name        string    `json:"name"`
	Email       string    `json:"email"`
	UserID      string    `json:"userId"`
	AccessLevel string    `json:"accessLevel" enum:"View,Upload,Edit"`
	Origin      string    `json:"origin" enum:"manual,sso"`
	Created     Timestamp `json:"created"`
	LastUpdated Timestamp `json:"last_updated"`
}

// GroupJSON is a group with its members and linked resources.
type GroupJSON struct {
	ID                             string              `json:"id"`
	Name                           string              `json:"name"`
	GroupOwner                     string              `json:"group_owner"`
	PrimaryContactName             string              `json:"primary_contact_name"`
	PrimaryContactNumber           string              `json:"primary_contact_number"`
	PrimaryContactEmail            string              `json:"primary_contact_email"`
	IsDeleted                      bool                `json:"is_deleted"`
	Created                        Timestamp           `json:"created"`
	CreatedBy                      string              `json:"created_by"`
	LastModified                   Timestamp           `json:"last_modified"`
	CustomFields                   []vigil.CustomField `json:"custom_fields"`
	Access                         vigil.GroupAccess   `json:"access"`
	AutoAddProjectRequest          bool                `json:"auto_add_project_request"`
	EnableProjectTeamNotifications bool                `json:"enable_project_team_notifications"`
	LinkedGroupsView               []string            `json:"linked_groups_view"`
	LinkedGroupsUpload             []string            `json:"linked_groups_upload"`
	LinkedGroupsEdit               []string            `json:"linked_groups_edit"`
	Members                        []MemberJSON        `json:"members,omitempty"`
	Projects                       []RefJSON           `json:"projects,omitempty" doc:"The group's scans (AttackForge projects)"`
	Targets                        []RefJSON           `json:"targets,omitempty"`
	Scans                          []RefJSON           `json:"scans,omitempty"`
}

func groupJSON(g *vigil.Group) GroupJSON {
	j := GroupJSON{ID: g.ID, Name: g.Name, GroupOwner: g.GroupOwner, PrimaryContactName: g.PrimaryContactName,
		PrimaryContactNumber: g.PrimaryContactNumber, PrimaryContactEmail: g.PrimaryContactEmail, IsDeleted: g.IsDeleted,
		Created: ts(g.CreatedAt), CreatedBy: g.CreatedBy, LastModified: ts(g.UpdatedAt), CustomFields: nonNil(g.CustomFields),
		Access: g.Access, AutoAddProjectRequest: g.AutoAddProjectRequest, EnableProjectTeamNotifications: g.EnableProjectTeamNotifications,
		LinkedGroupsView: []string{}, LinkedGroupsUpload: []string{}, LinkedGroupsEdit: []string{}}
	for _, k := range []string{"member_admins", "sso_1", "sso_2"} {
		if j.Access[k] == nil {
			if j.Access == nil {
				j.Access = vigil.GroupAccess{}
			}
			j.Access[k] = []map[string]any{}
		}
	}
	for name, lvl := range g.SSOLinks {
		switch lvl {
		case vigil.AccessView:
			j.LinkedGroupsView = append(j.LinkedGroupsView, name)
		case vigil.AccessUpload:
			j.LinkedGroupsUpload = append(j.LinkedGroupsUpload, name)
		case vigil.AccessEdit:
			j.LinkedGroupsEdit = append(j.LinkedGroupsEdit, name)
		}
	}
	for _, l := range [][]string{j.LinkedGroupsView, j.LinkedGroupsUpload, j.LinkedGroupsEdit} {
		sort.Strings(l)
	}
	return j
}

// groupDetail loads a group's members and resources into its JSON.
func (s *Server) groupDetail(ctx context.Context, orgID string, g *vigil.Group) (GroupJSON, error) {
	j := groupJSON(g)
	members, err := s.Groups.GroupMembers(ctx, orgID, g.ID)
	if err != nil {
		return j, err
	}
	j.Members = make([]MemberJSON, len(members))
	for i, m := range members {
		name := m.UserName
		if name == "" {
			name = m.UserEmail
		}
		j.Members[i] = MemberJSON{Name: name, Email: m.UserEmail, UserID: m.UserID, AccessLevel: m.AccessLevel.Display(), Origin: m.Origin,
			Created: ts(m.CreatedAt), LastUpdated: ts(m.UpdatedAt)}
	}
	opts := vigil.ListOptions{Page: 1, PerPage: 500, Group: g.ID}
	targets, _, err := s.Targets.FindTargets(ctx, orgID, opts)
	if err != nil {
		return j, err
	}
	scans, _, err := s.Scans.FindScans(ctx, orgID, opts)
	if err != nil {
		return j, err
	}
	j.Targets = convert(targets, func(t *vigil.Target) RefJSON { return RefJSON{ID: t.ID, Name: t.Name} })
	j.Scans = convert(scans, func(sc *vigil.Scan) RefJSON { return RefJSON{ID: sc.ID, Name: sc.Name} })
	j.Projects = j.Scans
	return j, nil
}

// visibleGroup returns a group the caller may see: any of the organization
// for group managers, one it belongs to otherwise ("not found" if not).
func (s *Server) visibleGroup(ctx context.Context, id string) (*vigil.Principal, *vigil.Group, error) {
	p, err := permit(ctx, vigil.PermRead)
	if err != nil {
		return nil, nil, err
	}
	g, err := s.Groups.FindGroup(ctx, p.OrganizationID, id)
	if err != nil {
		return nil, nil, err
	}
	if p.Has(vigil.PermGroups) {
		return p, g, nil
	}
	if lvl, err := s.memberLevel(ctx, p, g.ID); err != nil {
		return nil, nil, err
	} else if lvl == vigil.AccessNone || g.IsDeleted {
		return nil, nil, vigil.NotFound("group")
	}
	return p, g, nil
}

// memberLevel is the caller's level in a group (AccessNone if not a member).
func (s *Server) memberLevel(ctx context.Context, p *vigil.Principal, groupID string) (vigil.AccessLevel, error) {
	ms, err := s.Groups.UserGroups(ctx, p.OrganizationID, p.UserID)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.GroupID == groupID {
			return m.AccessLevel, nil
		}
	}
	return vigil.AccessNone, nil
}

func (s *Server) createGroup(ctx context.Context, b *GroupBody) (*vigil.Group, error) {
	p, err := permit(ctx, vigil.PermGroups)
	if err != nil {
		return nil, err
	}
	in := b.input()
	if err := in.Validate(true); err != nil {
		return nil, err
	}
	g, err := s.Groups.CreateGroup(ctx, p.OrganizationID, p.UserID, in)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "group.create", "group", g.ID, map[string]any{"name": g.Name})
	return g, nil
}

func (s *Server) updateGroup(ctx context.Context, id string, in vigil.GroupInput, action string) (*vigil.Group, error) {
	p, err := permit(ctx, vigil.PermGroups)
	if err != nil {
		return nil, err
	}
	if err := in.Validate(false); err != nil {
		return nil, err
	}
	g, err := s.Groups.UpdateGroup(ctx, p.OrganizationID, id, in)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, action, "group", g.ID, changedFields(map[string]bool{"name": in.Name != nil, "group_owner": in.GroupOwner != nil,
		"primary_contact": in.PrimaryContactName != nil || in.PrimaryContactNumber != nil || in.PrimaryContactEmail != nil,
		"is_deleted":      in.IsDeleted != nil, "custom_fields": in.CustomFields != nil, "access": in.Access != nil, "sso_links": in.SSOLinks != nil}))
	return g, nil
}

func (s *Server) archiveGroup(ctx context.Context, id string, archived bool) (*vigil.Group, error) {
	action := "group.restore"
	if archived {
		action = "group.archive"
	}
	return s.updateGroup(ctx, id, vigil.GroupInput{IsDeleted: &archived}, action)
}

// setMember adds, changes or (level "") removes a user's membership.
func (s *Server) setMember(ctx context.Context, groupID, userID string, level vigil.AccessLevel) error {
	p, err := permit(ctx, vigil.PermGroups)
	if err != nil {
		return err
	}
	if err := s.Groups.SetMember(ctx, p.OrganizationID, groupID, userID, level, "manual"); err != nil {
		return err
	}
	action := "group.member_set"
	if level == "" {
		action = "group.member_remove"
	}
	s.audit(ctx, action, "group", groupID, map[string]any{"user_id": userID, "access_level": string(level)})
	return nil
}

// userGroups lists a user's memberships; others than oneself need groups.manage.
func (s *Server) userGroups(ctx context.Context, userID string) ([]*vigil.GroupMember, error) {
	p, err := permit(ctx, vigil.PermRead)
	if err != nil {
		return nil, err
	}
	if userID != p.UserID && !p.Has(vigil.PermGroups) {
		return nil, vigil.NotFound("user")
	}
	if _, err := s.Accounts.FindUserByID(ctx, p.OrganizationID, userID); err != nil {
		return nil, err
	}
	return s.Groups.UserGroups(ctx, p.OrganizationID, userID)
}

// --- /v2/groups (CG style) ---

// GroupListInput is GET /v2/groups.
type GroupListInput struct {
	Archived bool `query:"archived" doc:"Include archived groups"`
}

func (s *Server) handleGroupList(ctx context.Context, in *GroupListInput) (*DataOutput[[]GroupJSON], error) {
	p, err := permit(ctx, vigil.PermRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	member := ""
	if !p.Has(vigil.PermGroups) {
		member = p.UserID
	}
	gs, err := s.Groups.ListGroups(ctx, p.OrganizationID, member, in.Archived && member == "")
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(gs, groupJSON)), nil
}

// GroupCreateInput is POST /v2/groups.
type GroupCreateInput struct {
	Body struct {
		Group GroupBody `json:"group"`
	}
}

func (s *Server) groupOutput(ctx context.Context, orgID string, g *vigil.Group) (*DataOutput[GroupJSON], error) {
	j, err := s.groupDetail(ctx, orgID, g)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(j), nil
}

func (s *Server) handleGroupCreate(ctx context.Context, in *GroupCreateInput) (*DataOutput[GroupJSON], error) {
	g, err := s.createGroup(ctx, &in.Body.Group)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.groupOutput(ctx, g.OrganizationID, g)
}

func (s *Server) handleGroupShow(ctx context.Context, in *IDPath) (*DataOutput[GroupJSON], error) {
	p, g, err := s.visibleGroup(ctx, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.groupOutput(ctx, p.OrganizationID, g)
}

// GroupUpdateInput is PUT /v2/groups/{id}.
type GroupUpdateInput struct {
	IDPath
	Body struct {
		Group GroupBody `json:"group"`
	}
}

func (s *Server) handleGroupUpdate(ctx context.Context, in *GroupUpdateInput) (*DataOutput[GroupJSON], error) {
	g, err := s.updateGroup(ctx, in.ID, in.Body.Group.input(), "group.update")
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.groupOutput(ctx, g.OrganizationID, g)
}

func (s *Server) handleGroupArchive(ctx context.Context, in *IDPath) (*DataOutput[GroupJSON], error) {
	g, err := s.archiveGroup(ctx, in.ID, true)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(groupJSON(g)), nil
}

func (s *Server) handleGroupRestore(ctx context.Context, in *IDPath) (*DataOutput[GroupJSON], error) {
	g, err := s.archiveGroup(ctx, in.ID, false)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(groupJSON(g)), nil
}

// GroupMemberInput is PUT /v2/groups/{id}/members/{user_id}.
type GroupMemberInput struct {
	IDPath
	UserID string `path:"user_id"`
	Body   struct {
		AccessLevel string `json:"access_level" enum:"View,Upload,Edit,view,upload,edit"`
	}
}

func (s *Server) handleGroupMemberSet(ctx context.Context, in *GroupMemberInput) (*DataOutput[GroupJSON], error) {
	lvl, ok := vigil.ParseAccessLevel(in.Body.AccessLevel)
	if !ok || lvl == vigil.AccessNone {
		return nil, fail(ctx, s.log, vigil.FieldError("access_level", "must be View, Upload or Edit; got %q", in.Body.AccessLevel))
	}
	return s.memberChanged(ctx, in.ID, s.setMember(ctx, in.ID, in.UserID, lvl))
}

// GroupMemberPath names a membership.
type GroupMemberPath struct {
	IDPath
	UserID string `path:"user_id"`
}

func (s *Server) handleGroupMemberRemove(ctx context.Context, in *GroupMemberPath) (*DataOutput[GroupJSON], error) {
	return s.memberChanged(ctx, in.ID, s.setMember(ctx, in.ID, in.UserID, ""))
}

func (s *Server) memberChanged(ctx context.Context, groupID string, err error) (*DataOutput[GroupJSON], error) {
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	p := vigil.PrincipalFromContext(ctx)
	g, err := s.Groups.FindGroup(ctx, p.OrganizationID, groupID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.groupOutput(ctx, p.OrganizationID, g)
}

// GroupResourcesInput is PUT /v2/groups/{id}/resources.
type GroupResourcesInput struct {
	IDPath
	Body struct {
		TargetIDs []string `json:"target_ids,omitempty" maxItems:"1000" doc:"Replaces the group's targets (with add: extends them); absent: unchanged"`
		ScanIDs   []string `json:"scan_ids,omitempty" maxItems:"1000"`
		Add       bool     `json:"add,omitempty" doc:"Add to the current resources instead of replacing them"`
	}
}

func (s *Server) handleGroupResources(ctx context.Context, in *GroupResourcesInput) (*DataOutput[GroupJSON], error) {
	p, err := permit(ctx, vigil.PermGroups)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body
	if err := s.Groups.SetGroupResources(ctx, p.OrganizationID, in.ID, b.TargetIDs, b.ScanIDs, b.Add); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "group.resources", "group", in.ID, map[string]any{"target_ids": b.TargetIDs, "scan_ids": b.ScanIDs, "add": b.Add})
	return s.memberChanged(ctx, in.ID, nil)
}

// UserGroupJSON is one of a user's memberships.
type UserGroupJSON struct {
	GroupID     string    `json:"group_id"`
	GroupName   string    `json:"group_name"`
	AccessLevel string    `json:"access_level" enum:"View,Upload,Edit"`
	Origin      string    `json:"origin" enum:"manual,sso"`
	Created     Timestamp `json:"created"`
	LastUpdated Timestamp `json:"last_updated"`
}

func userGroupJSON(m *vigil.GroupMember) UserGroupJSON {
	return UserGroupJSON{GroupID: m.GroupID, GroupName: m.GroupName, AccessLevel: m.AccessLevel.Display(), Origin: m.Origin,
		Created: ts(m.CreatedAt), LastUpdated: ts(m.UpdatedAt)}
}

// UserIDPath names a user.
type UserIDPath struct {
	UserID string `path:"user_id"`
}

func (s *Server) handleUserGroups(ctx context.Context, in *UserIDPath) (*DataOutput[[]UserGroupJSON], error) {
	ms, err := s.userGroups(ctx, in.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(ms, userGroupJSON)), nil
}

// onResource returns the caller if its role allows a and, for a restricted
// user, its groups give it at least want on the target or scan. Below View
// the resource does not exist for it; below want it is forbidden.
func (s *Server) onResource(ctx context.Context, a vigil.Action, kind, id string, want vigil.AccessLevel) (*vigil.Principal, error) {
	p, err := principal(ctx, a)
	if err != nil {
		return nil, err
	}
	return p, s.checkAccess(ctx, p, kind, id, want)
}

func (s *Server) checkAccess(ctx context.Context, p *vigil.Principal, kind, id string, want vigil.AccessLevel) error {
	if !p.Restricted || !vigil.IsUUID(id) {
		return nil
	}
	lvl, err := s.Groups.ResourceAccess(ctx, p.OrganizationID, p.UserID, kind, id)
	if err != nil {
		return err
	}
	switch {
	case !lvl.AtLeast(vigil.AccessView):
		return vigil.NotFound(kind)
	case !lvl.AtLeast(want):
		return vigil.Errorf(vigil.EFORBIDDEN, "your access to this %s through your groups is %s; %s is needed", kind, lvl.Display(), want.Display())
	}
	return nil
}

// restrict narrows a listing to what a restricted caller's groups allow.
func restrict(p *vigil.Principal, opts *vigil.ListOptions) {
	if p.Restricted {
		opts.RestrictTo = p.UserID
	}
}
