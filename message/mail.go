package message

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/wneessen/go-mail"

	"github.com/vigilscan/vigil"
)

// Mailer sends e-mail through one SMTP server.
type Mailer struct {
	From   string // the envelope and header address
	client *mail.Client
}

// NewMailer parses an SMTP URL: smtp://[user:pass@]host[:port][?tls=none|starttls|mandatory|tls]
// (tls=tls is implicit TLS, the default for port 465; starttls is
// opportunistic, mandatory refuses a server without it).
func NewMailer(rawURL, from string) (*Mailer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "smtp" && u.Scheme != "smtps" || u.Hostname() == "" {
		return nil, fmt.Errorf("smtp url: want smtp://[user:pass@]host[:port], got %q", rawURL)
	}
	if _, ok := vigil.NormalizeEmail(from); !ok {
		return nil, fmt.Errorf("smtp from: %q is not an e-mail address", from)
	}
	port := 25
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("smtp url: bad port %q", p)
		}
	} else if u.Scheme == "smtps" {
		port = 465
	}
	opts := []mail.Option{mail.WithPort(port)}
	mode := u.Query().Get("tls")
	if mode == "" {
		mode = "starttls"
		if u.Scheme == "smtps" || port == 465 {
			mode = "tls"
		}
	}
	switch mode {
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	case "starttls":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSOpportunistic))
	case "mandatory":
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	case "tls":
		opts = append(opts, mail.WithSSLPort(false))
	default:
		return nil, fmt.Errorf("smtp url: tls must be none, starttls, mandatory or tls; got %q", mode)
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	c, err := mail.NewClient(u.Hostname(), opts...)
	if err != nil {
		return nil, err
	}
	return &Mailer{From: from, client: c}, nil
}

// Send delivers m; the id is the Message-ID header.
func (ml *Mailer) Send(ctx context.Context, fromName string, m *vigil.Message) (string, error) {
	msg := mail.NewMsg()
	if err := msg.FromFormat(fromName, ml.From); err != nil {
		return "", fmt.Errorf("%w: from: %v", ErrPermanent, err)
	}
	if err := msg.To(m.Recipient); err != nil {
		return "", fmt.Errorf("%w: to: %v", ErrPermanent, err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.BodyText)
	if m.BodyHTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.BodyHTML)
	}
	if err := ml.client.DialAndSendWithContext(ctx, msg); err != nil {
		return "", err
	}
	return msg.GetGenHeader(mail.HeaderMessageID)[0], nil
}
