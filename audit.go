package vigil

import (
	"context"
	"time"
)

// AuditEvent is one entry of the append-only audit trail.
type AuditEvent struct {
	ID             string
	OrganizationID string
	ActorID        string
	ImpersonatorID string
	Action         string // e.g. "auth.sign_in", "user.create", "auth.lockout"
	ResourceType   string
	ResourceID     string
	IP             string
	UserAgent      string
	RequestID      string
	Changes        map[string]any // secrets never go here
	CreatedAt      time.Time
}

// AuditService appends to and reads the audit trail.
type AuditService interface {
	RecordAudit(ctx context.Context, e *AuditEvent) error
	ListAudit(ctx context.Context, orgID string, opts ListOptions) ([]*AuditEvent, int, error)
	FindAudit(ctx context.Context, orgID, id string) (*AuditEvent, error)
}

// AuditList is what audit listings filter on.
var AuditList = ListSpec{
	Filters: map[string]FilterKind{"action": FilterText, "actor_id": FilterExact, "user_id": FilterExact, "resource_type": FilterExact,
		"resource_id": FilterExact, "impersonator_id": FilterExact, "request_id": FilterExact, "ip": FilterExact,
		"created_after": FilterAfter, "created_before": FilterBefore},
	Sorts:       []string{"created_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}
