package vigil

import "strings"

// Role is a user's role inside an organization. Stored lowercase; the API emits
// the capitalized form ("User"), as the CG sign-in example does.
type Role string

// Roles, from most to least privileged.
const (
	RoleAdmin   Role = "admin"   // everything in the organization, users and API keys included
	RoleManager Role = "manager" // everything but users and API keys; approves exceptions (later)
	RoleUser    Role = "user"    // manages targets, credentials, port lists, scans
	RoleViewer  Role = "viewer"  // reads only
)

// Roles lists every role, for validation and documentation.
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

// Action is something a principal may attempt.
type Action int

// Actions checked by the API. Resource-specific rules compose from these.
const (
	ActionRead       Action = iota // read any resource of the organization
	ActionWrite                    // create, change or delete scanning resources
	ActionManage                   // approve, sync built-ins, organization-wide settings
	ActionAdminister               // users, roles, API keys
)

// Can reports whether the role may perform the action.
// note: the one place permission logic lives; both databases and every handler
// go through it.
func (r Role) Can(a Action) bool {
	switch a {
	case ActionRead:
		return r == RoleAdmin || r == RoleManager || r == RoleUser || r == RoleViewer
	case ActionWrite:
		return r == RoleAdmin || r == RoleManager || r == RoleUser
	case ActionManage:
		return r == RoleAdmin || r == RoleManager
	case ActionAdminister:
		return r == RoleAdmin
	}
	return false
}

// Can reports whether the principal in p may perform a; nil may do nothing.
func (p *Principal) Can(a Action) bool { return p != nil && p.Role.Can(a) }
