package message

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Twilio sends SMS through Twilio's Messages API, or any service that
// speaks it (BaseURL points elsewhere).
type Twilio struct {
	BaseURL    string // default https://api.twilio.com
	AccountSID string
	AuthToken  string
	From       string // E.164 sender number or messaging service sid
	Client     *http.Client
}

// SendSMS posts one message.
func (t *Twilio) SendSMS(ctx context.Context, to, body string) (string, error) {
	base := t.BaseURL
	if base == "" {
		base = "https://api.twilio.com"
	}
	form := url.Values{"To": {to}, "Body": {body}}
	if strings.HasPrefix(t.From, "MG") {
		form.Set("MessagingServiceSid", t.From)
	} else {
		form.Set("From", t.From)
	}
	endpoint := strings.TrimSuffix(base, "/") + "/2010-04-01/Accounts/" + url.PathEscape(t.AccountSID) + "/Messages.json"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(t.AccountSID, t.AuthToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: 20 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var out struct {
		SID     string `json:"sid"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &out)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return out.SID, nil
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		// A bad number or bad credentials: retrying sends the same request.
		return "", fmt.Errorf("%w: sms provider answered %d: %s", ErrPermanent, resp.StatusCode, out.Message)
	default:
		return "", fmt.Errorf("sms provider answered %d: %s", resp.StatusCode, out.Message)
	}
}

// Stores is false: Twilio sends.
func (t *Twilio) Stores() bool { return false }

// Outbox keeps SMS in the messages table (status "stored") for installations
// without a way out; an operator reads them with `vigil admin outbox`.
type Outbox struct{}

// SendSMS accepts the message; the row itself is the outbox.
func (Outbox) SendSMS(context.Context, string, string) (string, error) { return "", nil }

// Stores is true.
func (Outbox) Stores() bool { return true }
