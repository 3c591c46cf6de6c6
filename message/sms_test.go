package message

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Twilio posts the form the Messages API expects, with basic auth, and
// tells a refused number (permanent) from a server error (retry).
func TestTwilio(t *testing.T) {
	var got http.Header
	var form map[string]string
	status := http.StatusCreated
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/2010-04-01/Accounts/AC123/Messages.json" {
			t.Errorf("path %s", r.URL.Path)
		}
		got = r.Header.Clone()
		_ = r.ParseForm()
		form = map[string]string{"To": r.PostForm.Get("To"), "From": r.PostForm.Get("From"), "Body": r.PostForm.Get("Body")}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"sid": "SM42", "message": "bad number"}`))
	}))
	defer srv.Close()
	tw := &Twilio{BaseURL: srv.URL, AccountSID: "AC123", AuthToken: "secret", From: "+14155550000"}
	id, err := tw.SendSMS(context.Background(), "+14155550100", "123456 is your code")
	if err != nil || id != "SM42" {
		t.Fatalf("send: %q %v", id, err)
	}
	if user, pass, ok := (&http.Request{Header: got}).BasicAuth(); !ok || user != "AC123" || pass != "secret" {
		t.Errorf("auth %q %q %v", user, pass, ok)
	}
	if form["To"] != "+14155550100" || form["From"] != "+14155550000" || form["Body"] != "123456 is your code" {
		t.Errorf("form %v", form)
	}
	status = http.StatusBadRequest
	if _, err := tw.SendSMS(context.Background(), "+1", "x"); !errors.Is(err, ErrPermanent) {
		t.Errorf("400: %v, want permanent", err)
	}
	status = http.StatusServiceUnavailable
	if _, err := tw.SendSMS(context.Background(), "+1", "x"); err == nil || errors.Is(err, ErrPermanent) {
		t.Errorf("503: %v, want a retryable error", err)
	}
}
