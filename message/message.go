// Package message renders and delivers Vigil's e-mails and SMS: templates per
// message with the organization's whitelabel applied, e-mail over SMTP
// (go-mail), SMS through a Twilio-compatible HTTP API or into an outbox for
// air-gapped installations. Messages are stored first and delivered by a job
// with retries (package jobs), so a crash or an SMTP outage loses nothing.
package message

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/vigilscan/vigil"
)

// SMSProvider sends one SMS and returns the provider's message id.
type SMSProvider interface {
	SendSMS(ctx context.Context, to, body string) (id string, err error)
	// Stores reports whether messages are only kept (the outbox) rather than sent.
	Stores() bool
}

// Brand is what a message shows of the sender.
type Brand struct {
	CompanyName  string
	SupportEmail string
	FromName     string
	PortalURL    string
}

// Sender renders, stores and enqueues messages, and delivers them when their job runs.
type Sender struct {
	Store   vigil.MessageService
	Tenancy interface {
		Whitelabel(ctx context.Context, orgID string) (*vigil.Whitelabel, error)
	}
	Mail *Mailer
	SMS  SMSProvider
	// Enqueue schedules delivery of a stored message (a River job).
	Enqueue func(ctx context.Context, id string) error
	// PortalURL is where links in messages point ("https://scan.example.com").
	PortalURL string
	Product   string // the product name when no whitelabel applies
	Now       func() time.Time
}

// Data is what a template sees.
type Data struct {
	Brand
	Name   string
	Email  string
	Link   string
	Code   string
	Expiry string
	Extra  map[string]string
}

// Send renders template name for the recipient and queues it. to is an
// e-mail address or an E.164 phone number, per the template's channel.
func (s *Sender) Send(ctx context.Context, orgID, userID, name, to string, d Data) (*vigil.Message, error) {
	t, ok := templates[name]
	if !ok {
		return nil, fmt.Errorf("message: unknown template %q", name)
	}
	d.Brand = s.brand(ctx, orgID)
	m := &vigil.Message{OrganizationID: orgID, UserID: userID, Channel: t.channel, Template: name, Recipient: to}
	var err error
	if m.Subject, err = renderText(t.subject, d); err != nil {
		return nil, err
	}
	if m.BodyText, err = renderText(t.text, d); err != nil {
		return nil, err
	}
	if t.html != "" {
		if m.BodyHTML, err = renderHTML(t.html, d); err != nil {
			return nil, err
		}
	}
	if t.channel == vigil.ChannelEmail && s.Mail == nil || t.channel == vigil.ChannelSMS && s.SMS == nil {
		return nil, &vigil.Error{Code: vigil.EINVALID, Message: "Parameter Error",
			Fields: map[string][]string{"method": {"this server has no " + t.channel + " delivery configured"}}}
	}
	if err := s.Store.CreateMessage(ctx, m); err != nil {
		return nil, err
	}
	// note: a failed enqueue is not an error for the caller: the message is
	// stored queued and the reconciler enqueues it within a minute.
	if s.Enqueue != nil {
		_ = s.Enqueue(ctx, m.ID)
	}
	return m, nil
}

func (s *Sender) brand(ctx context.Context, orgID string) Brand {
	b := Brand{CompanyName: s.Product, FromName: s.Product, PortalURL: strings.TrimSuffix(s.PortalURL, "/")}
	if b.CompanyName == "" {
		b.CompanyName, b.FromName = "Vigil", "Vigil"
	}
	if s.Tenancy == nil || orgID == "" {
		return b
	}
	if w, err := s.Tenancy.Whitelabel(ctx, orgID); err == nil {
		if w.CompanyName != "" {
			b.CompanyName, b.FromName = w.CompanyName, w.CompanyName
		}
		if w.EmailFromName != "" {
			b.FromName = w.EmailFromName
		}
		b.SupportEmail = w.SupportEmail
		if w.Domain != "" {
			b.PortalURL = "https://" + w.Domain
		}
	}
	return b
}

// ErrPermanent marks a delivery failure retrying cannot fix.
var ErrPermanent = errors.New("message: permanent failure")

// Deliver sends a stored message once. It is idempotent: a message already
// sent (or stored) is left alone. final says this is the last attempt: a
// failure then marks the message failed instead of leaving it queued.
func (s *Sender) Deliver(ctx context.Context, id string, final bool) error {
	m, err := s.Store.FindMessage(ctx, id)
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return nil // deleted with its organization
		}
		return err
	}
	if m.Status != vigil.MessageQueued {
		return nil
	}
	now := s.now()
	var providerID string
	status := vigil.MessageSent
	switch m.Channel {
	case vigil.ChannelEmail:
		if s.Mail == nil {
			err = errors.New("no SMTP server configured")
		} else {
			providerID, err = s.Mail.Send(ctx, s.brand(ctx, m.OrganizationID).FromName, m)
		}
	case vigil.ChannelSMS:
		if s.SMS == nil {
			err = errors.New("no SMS provider configured")
		} else {
			providerID, err = s.SMS.SendSMS(ctx, m.Recipient, m.BodyText)
			if s.SMS.Stores() {
				status = vigil.MessageStored
			}
		}
	}
	if err != nil {
		st := vigil.MessageQueued
		if final || errors.Is(err, ErrPermanent) {
			st = vigil.MessageFailed
		}
		if merr := s.Store.MarkMessage(ctx, id, st, "", err.Error(), now); merr != nil {
			return merr
		}
		if errors.Is(err, ErrPermanent) {
			return nil
		}
		return err
	}
	return s.Store.MarkMessage(ctx, id, status, providerID, "", now)
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func renderText(src string, d Data) (string, error) {
	t, err := texttemplate.New("").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, d)
	return b.String(), err
}

func renderHTML(src string, d Data) (string, error) {
	t, err := htmltemplate.New("").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, d)
	return b.String(), err
}
