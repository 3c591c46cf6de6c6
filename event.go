package vigil

import (
	"context"
	"time"
)

// Events are things that happened and that webhooks and notifications fan
// out. They are written in the transaction of the change itself (an
// outbox), so a crash never loses or invents one.
const (
	EventScanStarted        = "scan_started"
	EventScanCompleted      = "scan_completed"
	EventScanStopped        = "scan_stopped"
	EventScanFailed         = "scan_failed"
	EventReportGenerated    = "report_generated"
	EventVulnerabilityFound = "vulnerability_found"
	EventExceptionCreated   = "exception_created"
	EventExceptionActivated = "exception_activated"
	EventExceptionRejected  = "exception_rejected"
	EventExceptionExpired   = "exception_expired"
	EventScheduleSkipped    = "schedule_skipped"
	EventPCIOverdue         = "overdue_pci_reminder"
)

// WebhookEvents lists the events a webhook can subscribe to.
var WebhookEvents = []string{
	EventScanStarted, EventScanCompleted, EventScanStopped, EventScanFailed, EventReportGenerated,
	EventVulnerabilityFound, EventExceptionCreated, EventExceptionActivated, EventExceptionRejected,
	EventExceptionExpired, EventScheduleSkipped,
}

// ValidWebhookEvent reports whether name is one of WebhookEvents.
func ValidWebhookEvent(name string) bool {
	for _, e := range WebhookEvents {
		if e == name {
			return true
		}
	}
	return false
}

// NotificationEventOf maps an event to the notification preference that
// governs it ("" when no in-app notification follows), and for scan events
// the when_status value it matches.
func NotificationEventOf(event string) (pref, status string) {
	switch event {
	case EventScanStarted:
		return "scan_event", "started"
	case EventScanCompleted:
		return "scan_event", "completed"
	case EventScanStopped:
		return "scan_event", "stopped"
	case EventScanFailed:
		return "scan_event", "failed"
	case EventReportGenerated:
		return "report_event", ""
	case EventExceptionCreated, EventExceptionActivated, EventExceptionRejected, EventExceptionExpired:
		return "exception_event", ""
	case EventPCIOverdue:
		return "overdue_pci_reminder", ""
	}
	return "", ""
}

// Event is one entry of the outbox. Data is the resource as the payload
// carries it; Title and Message are for people (notifications, e-mail).
type Event struct {
	ID             string
	OrganizationID string
	Type           string
	ResourceType   string
	ResourceID     string
	Title          string
	Message        string
	// Facts notification preferences filter on.
	Outcome     string  // PCI outcome of a completed scan: pass, fail ("" otherwise)
	MaxSeverity float64 // highest severity the event concerns
	Data        map[string]any
	CreatedAt   time.Time
}

// Webhook posts events of its organization (and, for a partner that asks,
// of its customers) to a URL.
type Webhook struct {
	ID               string
	OrganizationID   string
	OwnerID          string
	Name             string
	URL              string
	Events           []string
	Secret           string // only ever set on the way in, and once on create/rotate
	HasSecret        bool
	Active           bool
	IncludeCustomers bool // a partner's hook also gets its customers' events
	LastDeliveryAt   *time.Time
	LastStatus       string // succeeded, failed, pending ("" before the first)
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// WebhookInput is a create or partial update.
type WebhookInput struct {
	Name             *string
	URL              *string
	Events           []string // nil: unchanged
	Secret           *string  // "" on update: keep; create without one generates it
	Active           *bool
	IncludeCustomers *bool
}

// DeliveryStatus is where a webhook delivery stands.
type DeliveryStatus string

// Delivery states.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// WebhookDelivery is one event sent (or being sent) to one webhook.
type WebhookDelivery struct {
	ID             string // the X-CG-Hook-Delivery header
	WebhookID      string
	OrganizationID string
	EventID        string
	Event          string
	Payload        string // the exact body signed and sent
	Status         DeliveryStatus
	Attempts       int
	ResponseCode   int
	DurationMS     int
	LastError      string
	DeliveredAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	Log            []*DeliveryAttempt // on show
}

// DeliveryAttempt is one HTTP attempt of a delivery.
type DeliveryAttempt struct {
	Attempt         int
	RequestHeaders  map[string]string
	ResponseCode    int
	ResponseHeaders map[string]string
	ResponseBody    string // an excerpt
	DurationMS      int
	Error           string
	CreatedAt       time.Time
}

// WebhookList and DeliveryList are the allow-lists of their listings.
var (
	WebhookList = ListSpec{
		Filters:     map[string]FilterKind{"name": FilterText, "url": FilterText, "active": FilterBool, "id": FilterExact},
		Sorts:       []string{"name", "created_at", "updated_at"},
		DefaultSort: []Sort{{Column: "created_at", Desc: true}},
		DateColumn:  "created_at",
	}
	DeliveryList = ListSpec{
		Filters:     map[string]FilterKind{"event": FilterExact, "status": FilterExact, "id": FilterExact},
		Sorts:       []string{"created_at", "updated_at", "attempts"},
		DefaultSort: []Sort{{Column: "created_at", Desc: true}},
		DateColumn:  "created_at",
	}
)

// WebhookService stores webhooks and their deliveries, scoped to orgID.
type WebhookService interface {
	FindWebhooks(ctx context.Context, orgID string, opts ListOptions) ([]*Webhook, int, error)
	FindWebhookByID(ctx context.Context, orgID, id string) (*Webhook, error)
	CreateWebhook(ctx context.Context, orgID, ownerID string, w *Webhook) error
	UpdateWebhook(ctx context.Context, orgID, id string, w *Webhook) error
	DeleteWebhook(ctx context.Context, orgID, id string) error
	FindDeliveries(ctx context.Context, orgID, webhookID string, opts ListOptions) ([]*WebhookDelivery, int, error)
	FindDeliveryByID(ctx context.Context, orgID, webhookID, id string) (*WebhookDelivery, error)
	// RedeliverDelivery queues a finished delivery again.
	RedeliverDelivery(ctx context.Context, orgID, webhookID, id string) (*WebhookDelivery, error)
}

// Notification is an in-app notice to one user.
type Notification struct {
	ID             string
	OrganizationID string
	UserID         string
	EventID        string
	Type           string // the preference: scan_event, report_event, exception_event, overdue_pci_reminder
	Event          string // the event: scan_completed, ...
	Title          string
	Message        string
	ResourceType   string
	ResourceID     string
	Data           map[string]any
	ReadAt         *time.Time
	SeenAt         *time.Time
	CreatedAt      time.Time
}

// NotificationCounts are the unread and unseen counts of a user.
type NotificationCounts struct {
	Unread, Unseen int
}

// NotificationList is the allow-list of GET /v2/notifications.
var NotificationList = ListSpec{
	Filters: map[string]FilterKind{"notification_type": FilterExact, "event": FilterExact, "read": FilterBool,
		"seen": FilterBool, "resource_id": FilterExact, "title": FilterText},
	Sorts:       []string{"created_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// NotificationService keeps a user's notifications.
type NotificationService interface {
	FindNotifications(ctx context.Context, orgID, userID string, opts ListOptions) ([]*Notification, int, error)
	CountNotifications(ctx context.Context, orgID, userID string) (NotificationCounts, error)
	FindNotificationByID(ctx context.Context, orgID, userID, id string) (*Notification, error)
	DeleteNotification(ctx context.Context, orgID, userID, id string) error
	// MarkNotifications sets read (or seen) on id, or on all when id is "".
	MarkNotifications(ctx context.Context, orgID, userID, id string, read bool) (int, error)
}

// NotificationEmail is a notification to e-mail, with its recipient.
type NotificationEmail struct {
	Notification *Notification
	Email, Name  string
}

// DeliveryJob is what sending a delivery needs: its payload and its
// webhook's URL, secret and state.
type DeliveryJob struct {
	Delivery *WebhookDelivery
	URL      string
	Secret   string
	Active   bool
}

// Dispatcher fans undispatched events out to webhook deliveries,
// notifications and e-mails; it returns the deliveries to enqueue.
type Dispatcher interface {
	DispatchEvents(ctx context.Context, limit int) (deliveries []string, emails []string, n int, err error)
}
