package vigil

import (
	"context"
	"time"
)

// AliveTest is how a scan decides that a target host is up (CONFIRMED values).
type AliveTest string

// Alive tests.
const (
	AliveScanConfigDefault AliveTest = "scan_config_default" // ICMP echo and TCP ping
	AliveICMP              AliveTest = "icmp"
	AliveTCPSYN            AliveTest = "tcp_syn"
	AliveConsiderAlive     AliveTest = "consider_alive" // skip discovery
)

// AliveTests lists the accepted alive_test values.
var AliveTests = []AliveTest{AliveScanConfigDefault, AliveICMP, AliveTCPSYN, AliveConsiderAlive}

// Limits of free-text fields shared by several resources.
const (
	MaxNameLen    = 255
	MaxCommentLen = 4000
	MaxHostsLen   = 65536
)

// DefaultMaxTargetHosts is the default cap on addresses per target, the same
// as Greenbone's default max_hosts.
const DefaultMaxTargetHosts = 4096

// CredentialRefs are the credential slots of a target, each a credential id
// of the matching type or "".
type CredentialRefs struct {
	SSH  string
	SMB  string
	ESXi string
	SNMP string
}

// Slots returns the refs keyed by credential type, skipping empty ones.
func (c CredentialRefs) Slots() map[CredentialType]string {
	m := map[CredentialType]string{}
	for t, id := range map[CredentialType]string{CredentialSSH: c.SSH, CredentialSMB: c.SMB, CredentialESXi: c.ESXi, CredentialSNMP: c.SNMP} {
		if id != "" {
			m[t] = id
		}
	}
	return m
}

// Target is a set of hosts to scan with how to reach them.
type Target struct {
	ID             string
	OrganizationID string
	Name           string
	Hosts          string
	ExcludeHosts   string
	Comment        string
	PortListID     string
	AliveTest      AliveTest
	Credentials    CredentialRefs
	HostCount      int64 // addresses and hostnames after exclusions
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TargetInput is a create or a partial update: nil fields are left unchanged.
// For credential slots, "" removes the credential from the slot.
type TargetInput struct {
	Name         *string
	Hosts        *string
	ExcludeHosts *string
	Comment      *string
	PortListID   *string
	AliveTest    *string
	Credentials  *CredentialRefsInput
}

// CredentialRefsInput sets credential slots; nil slots are left unchanged.
type CredentialRefsInput struct {
	SSH, SMB, ESXi, SNMP *string
}

// TargetList is the allow-list of GET /v2/targets.
var TargetList = ListSpec{
	Filters: map[string]FilterKind{
		"name": FilterText, "hosts": FilterText, "exclude_hosts": FilterText, "comment": FilterText,
		"alive_test": FilterExact, "port_list_id": FilterExact, "id": FilterExact,
	},
	Sorts:       []string{"name", "alive_test", "host_count", "created_at", "updated_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// ApplyTargetInput validates in and applies it to t. creating requires the
// fields a new target must have. The merged target is validated as a whole,
// so changing exclude_hosts alone re-counts the hosts.
func ApplyTargetInput(t *Target, in TargetInput, creating bool, maxHosts int64) error {
	v := NewValidation("target")
	if in.Name != nil {
		t.Name = *in.Name
	}
	if in.Hosts != nil {
		t.Hosts = *in.Hosts
	}
	if in.ExcludeHosts != nil {
		t.ExcludeHosts = *in.ExcludeHosts
	}
	if in.Comment != nil {
		t.Comment = *in.Comment
	}
	if in.PortListID != nil {
		t.PortListID = *in.PortListID
	}
	if in.AliveTest != nil {
		t.AliveTest = AliveTest(*in.AliveTest)
	}
	if creating && t.AliveTest == "" {
		t.AliveTest = AliveScanConfigDefault
	}
	if c := in.Credentials; c != nil {
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&t.Credentials.SSH, c.SSH)
		set(&t.Credentials.SMB, c.SMB)
		set(&t.Credentials.ESXi, c.ESXi)
		set(&t.Credentials.SNMP, c.SNMP)
	}

	checkText(v, "name", t.Name, MaxNameLen, true)
	checkText(v, "comment", t.Comment, MaxCommentLen, false)
	checkText(v, "hosts", t.Hosts, MaxHostsLen, true)
	checkText(v, "exclude_hosts", t.ExcludeHosts, MaxHostsLen, false)
	valid := false
	for _, a := range AliveTests {
		valid = valid || t.AliveTest == a
	}
	if !valid {
		v.Addf("alive_test", "must be one of scan_config_default, icmp, tcp_syn, consider_alive; got %q", t.AliveTest)
	}
	if t.PortListID != "" && !IsUUID(t.PortListID) {
		v.Addf("port_list_id", "must be a UUID, got %q", t.PortListID)
	}
	for slot, id := range map[string]string{"ssh": t.Credentials.SSH, "smb": t.Credentials.SMB, "esxi": t.Credentials.ESXi, "snmp": t.Credentials.SNMP} {
		if id != "" && !IsUUID(id) {
			v.Addf("credentials."+slot, "must be a credential UUID, got %q", id)
		}
	}
	if !v.Has("hosts") && !v.Has("exclude_hosts") {
		hosts, err := ParseHostSpec(t.Hosts)
		if err != nil {
			v.Add("hosts", err.Error())
		}
		exclude, xerr := ParseHostSpec(t.ExcludeHosts)
		if xerr != nil {
			v.Add("exclude_hosts", xerr.Error())
		}
		if err == nil && xerr == nil {
			t.HostCount = hosts.Count(exclude)
			switch {
			case t.HostCount == 0:
				v.Add("hosts", "no hosts left after exclusions")
			case maxHosts > 0 && t.HostCount > maxHosts:
				v.Addf("hosts", "%d hosts exceed the maximum of %d per target", t.HostCount, maxHosts)
			}
		}
	}
	return v.Err()
}

func checkText(v *Validation, field, s string, max int, required bool) {
	switch {
	case required && len(s) == 0:
		v.Add(field, "can't be blank")
	case len(s) > max:
		v.Addf(field, "is too long (maximum is %d characters)", max)
	}
}

// TargetService manages targets. Every method is scoped to orgID; a target of
// another organization is ENOTFOUND.
type TargetService interface {
	FindTargets(ctx context.Context, orgID string, opts ListOptions) ([]*Target, int, error)
	// FindTargetByID returns ENOTFOUND if the target does not exist in orgID.
	FindTargetByID(ctx context.Context, orgID, id string) (*Target, error)
	// CreateTarget returns EINVALID for bad fields, unknown port lists or
	// credentials of the wrong type.
	CreateTarget(ctx context.Context, orgID string, in TargetInput) (*Target, error)
	UpdateTarget(ctx context.Context, orgID, id string, in TargetInput) (*Target, error)
	// DeleteTargets deletes all ids or none: ENOTFOUND if one is missing,
	// ECONFLICT if one is in use.
	DeleteTargets(ctx context.Context, orgID string, ids []string) error
}
