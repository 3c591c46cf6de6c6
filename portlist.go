package vigil

import (
	"context"
	"time"
)

// AppTypes are the product codes a port list, scanner or profile can be tied to.
var AppTypes = []string{"pci", "vrms", "penetration"}

// PortList is a named set of port ranges a target scans. Built-in lists exist
// in every organization, cannot be edited or deleted, and are refreshed by sync.
type PortList struct {
	ID             string
	OrganizationID string
	Name           string
	Comment        string
	BuiltinKey     string // "" for lists users made
	Active         bool
	AppType        string // "" means usable under every product
	Ranges         []PortRange
	TCPCount       int
	UDPCount       int
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Builtin reports whether the list is one of the read-only built-ins.
func (l *PortList) Builtin() bool { return l.BuiltinKey != "" }

// PortRangeString is the compact form of the list's ranges ("T:1-1024,U:53").
func (l *PortList) PortRangeString() string { return FormatPortRanges(l.Ranges) }

// PortListInput is a create or partial update. PortRange and Ranges are two
// spellings of the same thing; giving either replaces all ranges.
type PortListInput struct {
	Name      *string
	Comment   *string
	PortRange *string
	Ranges    *[]PortRange
}

// PortListList is the allow-list of GET /v2/port_lists.
var PortListList = ListSpec{
	Filters: map[string]FilterKind{"name": FilterText, "comment": FilterText, "app_type": FilterExact,
		"active": FilterBool, "builtin": FilterBool, "id": FilterExact},
	Sorts:       []string{"name", "port_count", "tcp_count", "udp_count", "created_at", "updated_at"},
	DefaultSort: []Sort{{Column: "name"}},
	DateColumn:  "created_at",
}

// ApplyPortListInput validates in and applies it to l.
func ApplyPortListInput(l *PortList, in PortListInput, creating bool) error {
	v := NewValidation("port_list")
	if l.Builtin() {
		return &Error{Code: EINVALID, Message: "Parameter Error", Fields: map[string][]string{"id": {"built-in port lists are read-only; create a copy to change it"}}}
	}
	if in.Name != nil {
		l.Name = *in.Name
	}
	if in.Comment != nil {
		l.Comment = *in.Comment
	}
	checkText(v, "name", l.Name, MaxNameLen, true)
	checkText(v, "comment", l.Comment, MaxCommentLen, false)
	switch {
	case in.PortRange != nil && in.Ranges != nil:
		v.Add("port_range", "give either port_range or ranges, not both")
	case in.PortRange != nil:
		rs, err := ParsePortRanges(*in.PortRange)
		if err != nil {
			v.Add("port_range", err.Error())
		} else {
			l.Ranges = rs
		}
	case in.Ranges != nil:
		l.Ranges = append([]PortRange(nil), (*in.Ranges)...)
		for i, r := range l.Ranges {
			if r.Protocol == "" {
				l.Ranges[i].Protocol = TCP
			}
			if err := l.Ranges[i].Validate(); err != nil {
				v.Addf("ranges", "range %d: %s", i+1, err)
			}
		}
	}
	if !v.Has("port_range") && !v.Has("ranges") {
		if creating && len(l.Ranges) == 0 {
			v.Add("port_range", "can't be blank: give at least one port or range")
		}
		if err := CheckPortRangeOverlap(l.Ranges); err != nil {
			v.Add("port_range", err.Error())
		}
	}
	l.TCPCount, l.UDPCount = CountPorts(l.Ranges)
	return v.Err()
}

// PortListSyncResult says what a sync of the built-in lists changed.
type PortListSyncResult struct {
	Created   []string // names of lists created
	Updated   []string // names of lists whose name, comment or ranges changed
	Unchanged []string
}

// PortListService manages port lists, scoped to orgID.
type PortListService interface {
	FindPortLists(ctx context.Context, orgID string, opts ListOptions) ([]*PortList, int, error)
	FindPortListByID(ctx context.Context, orgID, id string) (*PortList, error)
	CreatePortList(ctx context.Context, orgID string, in PortListInput) (*PortList, error)
	// UpdatePortList returns EINVALID for built-in lists.
	UpdatePortList(ctx context.Context, orgID, id string, in PortListInput) (*PortList, error)
	// DeletePortLists deletes all or none: EINVALID for built-ins, ECONFLICT
	// while a target uses one.
	DeletePortLists(ctx context.Context, orgID string, ids []string) error
	AddPortRange(ctx context.Context, orgID, id string, r PortRange) (*PortList, error)
	DeletePortRange(ctx context.Context, orgID, id, rangeID string) (*PortList, error)
	// SetPortListActive and SetPortListAppType also work on built-ins.
	SetPortListActive(ctx context.Context, orgID, id string, active bool) (*PortList, error)
	SetPortListAppType(ctx context.Context, orgID, id string, appType string) (*PortList, error)
	// SyncBuiltinPortLists creates missing built-ins and re-applies the
	// current definitions to existing ones.
	SyncBuiltinPortLists(ctx context.Context, orgID string) (*PortListSyncResult, error)
}
