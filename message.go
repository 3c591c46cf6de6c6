package vigil

import (
	"context"
	"time"
)

// Message channels.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Message statuses.
const (
	MessageQueued = "queued"
	MessageSent   = "sent"
	MessageStored = "stored" // kept in the outbox (air-gapped SMS)
	MessageFailed = "failed"
)

// Message is one e-mail or SMS, rendered and stored before it is sent.
type Message struct {
	ID             string
	OrganizationID string
	UserID         string
	Channel        string
	Template       string
	Recipient      string
	Subject        string
	BodyText       string
	BodyHTML       string
	Status         string
	Attempts       int
	LastError      string
	ProviderID     string
	CreatedAt      time.Time
	SentAt         *time.Time
}

// MessageService stores messages and their delivery state.
type MessageService interface {
	CreateMessage(ctx context.Context, m *Message) error
	FindMessage(ctx context.Context, id string) (*Message, error)
	// MarkMessage records an attempt: status sent/stored/failed/queued, with an error for failures.
	MarkMessage(ctx context.Context, id, status, providerID, lastError string, at time.Time) error
	// QueuedMessages lists messages still queued that were created before cutoff.
	QueuedMessages(ctx context.Context, cutoff time.Time, limit int) ([]string, error)
	// ListMessages lists an organization's messages, newest first ("" for all, the operator's outbox).
	ListMessages(ctx context.Context, orgID, channel, status string, limit int) ([]*Message, error)
}
