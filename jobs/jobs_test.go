package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/internal/mailtest"
	"github.com/vigilscan/vigil/jobs"
	"github.com/vigilscan/vigil/message"
	"github.com/vigilscan/vigil/storetest"
)

// A message survives two refused deliveries and arrives once, on the third
// attempt; an SMS to the outbox is stored.
func TestMessageDeliveryRetries(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	smtpd := mailtest.Start(t)
	smtpd.FailNext(2)
	mailer, err := message.NewMailer(smtpd.URL(), "noreply@vigil.test")
	if err != nil {
		t.Fatal(err)
	}
	sender := &message.Sender{Store: st, Mail: mailer, SMS: message.Outbox{}, PortalURL: "https://portal.test"}
	runner, err := jobs.StartSQLite(ctx, st.DB().DB, jobs.Config{Messages: sender, Queued: st,
		Backoff: func(int) time.Duration { return 100 * time.Millisecond }, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runner.Stop(context.Background()) })
	sender.Enqueue = runner.EnqueueMessage

	m, err := sender.Send(ctx, "", "", message.TemplateReset, "alice@example.com",
		message.Data{Name: "Alice", Email: "alice@example.com", Link: "https://portal.test/reset?t=abc", Expiry: "in 1 hour"})
	if err != nil {
		t.Fatal(err)
	}
	got := smtpd.WaitFor(t, "alice@example.com", "Reset your Vigil password", 20*time.Second)
	if !strings.Contains(got.Text, "https://portal.test/reset?t=abc") || !strings.Contains(got.HTML, `href="https://portal.test/reset?t=abc"`) {
		t.Errorf("mail bodies: text %q html %q", got.Text, got.HTML)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		row, err := st.FindMessage(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.Status == vigil.MessageSent {
			if row.Attempts != 3 || row.ProviderID == "" {
				t.Errorf("attempts %d, provider id %q; want 3 and a Message-ID", row.Attempts, row.ProviderID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("message still %s after %d attempts: %s", row.Status, row.Attempts, row.LastError)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(smtpd.Messages()); n != 1 {
		t.Errorf("%d mails arrived, want 1", n)
	}

	sms, err := sender.Send(ctx, "", "", message.TemplateSMSCode, "+14155550100", message.Data{Code: "123456", Expiry: "in 5 minutes"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		row, _ := st.FindMessage(ctx, sms.ID)
		if row.Status == vigil.MessageStored && strings.Contains(row.BodyText, "123456") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sms not stored: %+v", row)
		}
	}
}
