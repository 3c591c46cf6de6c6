package vigil

import (
	"context"
	"strings"
	"time"
)

// AccessLevel is a group member's level on the group's resources.
type AccessLevel string

// Access levels, from least to most. View reads; Upload also starts scans and
// adds results; Edit changes and deletes.
const (
	AccessNone   AccessLevel = "none"
	AccessView   AccessLevel = "view"
	AccessUpload AccessLevel = "upload"
	AccessEdit   AccessLevel = "edit"
	// AccessFull is what an unrestricted principal has on anything of its organization.
	AccessFull AccessLevel = "full"
)

// ParseAccessLevel accepts View, view, VIEW; ok is false for anything else.
func ParseAccessLevel(s string) (AccessLevel, bool) {
	l := AccessLevel(strings.ToLower(strings.TrimSpace(s)))
	switch l {
	case AccessNone, AccessView, AccessUpload, AccessEdit:
		return l, true
	}
	return "", false
}

// Rank orders levels.
func (l AccessLevel) Rank() int {
	switch l {
	case AccessView:
		return 1
	case AccessUpload:
		return 2
	case AccessEdit:
		return 3
	case AccessFull:
		return 4
	}
	return 0
}

// AtLeast reports whether l allows what want allows.
func (l AccessLevel) AtLeast(want AccessLevel) bool { return l.Rank() >= want.Rank() }

// Display is the SSAPI membership form ("View").
func (l AccessLevel) Display() string {
	if l == "" {
		return ""
	}
	return strings.ToUpper(string(l[:1])) + string(l[1:])
}

// CustomField is an SSAPI key/value pair.
type CustomField struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// GroupAccess is the SSAPI access object, kept as sent (member_admins, sso_1, sso_2).
type GroupAccess map[string][]map[string]any

// Group is a set of users with a level each on a set of targets and scans.
type Group struct {
	ID                             string
	OrganizationID                 string
	Name                           string
	GroupOwner                     string
	PrimaryContactName             string
	PrimaryContactNumber           string
	PrimaryContactEmail            string
	IsDeleted                      bool
	CustomFields                   []CustomField
	Access                         GroupAccess
	AutoAddProjectRequest          bool
	EnableProjectTeamNotifications bool
	CreatedBy                      string
	CreatedAt                      time.Time
	UpdatedAt                      time.Time
	// SSOLinks maps IdP group names to the level they confer.
	SSOLinks map[string]AccessLevel
}

// GroupMember is a user's membership.
type GroupMember struct {
	GroupID     string
	GroupName   string
	UserID      string
	UserName    string
	UserEmail   string
	AccessLevel AccessLevel
	Origin      string // manual or sso
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GroupInput creates or updates a group; nil fields are kept on update.
type GroupInput struct {
	Name                           *string
	GroupOwner                     *string
	PrimaryContactName             *string
	PrimaryContactNumber           *string
	PrimaryContactEmail            *string
	IsDeleted                      *bool
	CustomFields                   []CustomField // upserted by key on update
	Access                         GroupAccess   // patched per entry (action upsert/remove) on update
	AutoAddProjectRequest          *bool
	EnableProjectTeamNotifications *bool
	// SSOLinks replace the links of the levels given (legacy linked_groups_*).
	SSOLinks map[AccessLevel][]string
}

// Validate checks the fields that are set.
func (in *GroupInput) Validate(create bool) error {
	v := NewValidation("")
	if create && in.Name == nil {
		v.Add("name", "can't be blank")
	}
	if in.Name != nil {
		checkText(v, "name", strings.TrimSpace(*in.Name), MaxNameLen, true)
	}
	for f, s := range map[string]*string{"group_owner": in.GroupOwner, "primary_contact_name": in.PrimaryContactName,
		"primary_contact_number": in.PrimaryContactNumber, "primary_contact_email": in.PrimaryContactEmail} {
		if s != nil {
			checkText(v, f, *s, MaxNameLen, false)
		}
	}
	for i, cf := range in.CustomFields {
		if !customFieldKey(cf.Key) {
			v.Addf("custom_fields", "item %d: key %q must be letters, digits and underscores", i, cf.Key)
		}
	}
	for lvl, names := range in.SSOLinks {
		for _, n := range names {
			if strings.TrimSpace(n) == "" || len(n) > 255 {
				v.Addf("linked_groups_"+string(lvl), "group names must be 1 to 255 characters")
			}
		}
	}
	return v.Err()
}

func customFieldKey(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// GroupService manages groups, memberships and the resources they hold.
type GroupService interface {
	CreateGroup(ctx context.Context, orgID, createdBy string, in GroupInput) (*Group, error)
	UpdateGroup(ctx context.Context, orgID, id string, in GroupInput) (*Group, error)
	FindGroup(ctx context.Context, orgID, id string) (*Group, error)
	// ListGroups lists the organization's groups; with memberOf set, only
	// those the user belongs to. Archived groups are left out unless archived.
	ListGroups(ctx context.Context, orgID, memberOf string, archived bool) ([]*Group, error)
	GroupMembers(ctx context.Context, orgID, groupID string) ([]*GroupMember, error)
	UserGroups(ctx context.Context, orgID, userID string) ([]*GroupMember, error)
	// SetMember adds or changes a membership; level "" removes it.
	SetMember(ctx context.Context, orgID, groupID, userID string, level AccessLevel, origin string) error
	// SyncSSOMemberships makes the user's SSO-made memberships match the IdP
	// groups it has now; manual memberships are untouched.
	SyncSSOMemberships(ctx context.Context, orgID, userID string, idpGroups []string) error
	// SetGroupResources replaces (or with add, extends) the targets and scans of a group.
	SetGroupResources(ctx context.Context, orgID, groupID string, targetIDs, scanIDs []string, add bool) error
	GroupTargetIDs(ctx context.Context, orgID, groupID string) ([]string, error)
	GroupScanIDs(ctx context.Context, orgID, groupID string) ([]string, error)
	// ResourceAccess is a restricted user's level on one target or scan:
	// AccessFull when the resource is in no live group, the highest level of
	// the user's live groups holding it otherwise (AccessNone if none).
	ResourceAccess(ctx context.Context, orgID, userID, kind, id string) (AccessLevel, error)
}

// Resource kinds groups can hold.
const (
	ResourceTarget = "target"
	ResourceScan   = "scan"
)
