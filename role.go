package vigil

import (
	"slices"
	"strings"
)

// Role is a user's role inside an organization. Stored lowercase; the API emits
// the capitalized form ("User"), as the CG sign-in example does.
type Role string

// Roles, from most to least privileged. A partner admin is not a stored role:
// it is the admin of a partner organization (see RoleName).
const (
	RoleAdmin   Role = "admin"   // everything in the organization, users and API keys included
	RoleManager Role = "manager" // everything but users and API keys; approves exceptions
	RoleUser    Role = "user"    // manages targets, credentials, port lists, scans
	RoleViewer  Role = "viewer"  // reads only
)

// RolePartnerAdmin is the name of an admin's role in a partner organization.
const RolePartnerAdmin = "partner_admin"

// Roles lists every stored role, for validation and documentation.
var Roles = []Role{RoleAdmin, RoleManager, RoleUser, RoleViewer}

// ParseRole accepts a role in any case ("Admin", "admin").
func ParseRole(s string) (Role, bool) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, x := range Roles {
		if r == x {
			return r, true
		}
	}
	return "", false
}

// Display is the capitalized wire form.
func (r Role) Display() string {
	if r == "" {
		return ""
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

// RoleName is the name of the permission set a role gets in an organization:
// the role itself, or partner_admin for the admin of a partner organization.
func RoleName(r Role, partner bool) string {
	if r == RoleAdmin && partner {
		return RolePartnerAdmin
	}
	return string(r)
}

// Permission is one thing a role allows, as GET /v2/user/permissions lists it.
type Permission string

// Permissions.
const (
	PermRead              Permission = "resources.read"      // read targets, scans, results, settings of the organization
	PermWrite             Permission = "resources.write"     // create, change, delete targets, credentials, port lists, scans
	PermScan              Permission = "scans.start"         // start and stop scans
	PermManage            Permission = "settings.manage"     // sync built-ins, organization-wide scan settings
	PermApproveExceptions Permission = "exceptions.approve"  // activate and reject exceptions
	PermGroups            Permission = "groups.manage"       // create groups, manage members and their resources
	PermAudit             Permission = "audit.read"          // read the audit trail
	PermUsers             Permission = "users.manage"        // create, invite, change, delete users of the organization
	PermAPIKeys           Permission = "api_keys.manage"     // organization API keys
	PermOrganization      Permission = "organization.update" // rename the organization, SSO settings
	PermImpersonate       Permission = "users.impersonate"   // act as another user (audited)
	PermCustomers         Permission = "customers.manage"    // partner: customer organizations, their users and subscriptions
	PermPlans             Permission = "plans.manage"        // partner: plans and features
	PermWhitelabel        Permission = "whitelabel.update"   // partner: branding of the portal, e-mails and reports
	PermSubscriptions     Permission = "subscriptions.read"  // the organization's plans and subscriptions
	PermOwnAccount        Permission = "account.manage_own"  // own profile, password, 2FA, tokens, preferences
)

// rolePermissions is the one table of who may do what.
// note: every check in the API goes through Can or Has; nothing compares roles.
var rolePermissions = func() map[string][]Permission {
	viewer := []Permission{PermOwnAccount, PermRead, PermSubscriptions}
	user := append(slices.Clone(viewer), PermWrite, PermScan)
	manager := append(slices.Clone(user), PermManage, PermApproveExceptions, PermGroups, PermAudit)
	admin := append(slices.Clone(manager), PermUsers, PermAPIKeys, PermOrganization, PermImpersonate)
	partner := append(slices.Clone(admin), PermCustomers, PermPlans, PermWhitelabel)
	return map[string][]Permission{
		string(RoleViewer): viewer, string(RoleUser): user, string(RoleManager): manager,
		string(RoleAdmin): admin, RolePartnerAdmin: partner,
	}
}()

// PermissionsOf returns the permission set of a role name (RoleName).
func PermissionsOf(roleName string) []Permission { return slices.Clone(rolePermissions[roleName]) }

// RoleNames lists the permission sets, for documentation.
func RoleNames() []string {
	return []string{string(RoleAdmin), string(RoleManager), string(RoleUser), string(RoleViewer), RolePartnerAdmin}
}

// Action is something a principal may attempt.
type Action int

// Actions checked by the API. Resource-specific rules compose from these.
const (
	ActionRead       Action = iota // read any resource of the organization
	ActionWrite                    // create, change or delete scanning resources
	ActionManage                   // approve, sync built-ins, organization-wide settings
	ActionAdminister               // users, roles, API keys
	ActionPartner                  // customer organizations, plans, whitelabel
)

var actionPermission = map[Action]Permission{
	ActionRead: PermRead, ActionWrite: PermWrite, ActionManage: PermManage, ActionAdminister: PermUsers, ActionPartner: PermCustomers,
}

// Can reports whether the role, in an organization that is not a partner,
// may perform the action.
func (r Role) Can(a Action) bool {
	return slices.Contains(rolePermissions[string(r)], actionPermission[a])
}

// Can reports whether the principal in p may perform a; nil may do nothing.
func (p *Principal) Can(a Action) bool { return p != nil && p.Has(actionPermission[a]) }

// Has reports whether the principal holds the permission.
func (p *Principal) Has(perm Permission) bool {
	return p != nil && slices.Contains(rolePermissions[RoleName(p.Role, p.Partner)], perm)
}
