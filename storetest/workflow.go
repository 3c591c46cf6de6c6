package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/store"
)

// testPartnerWebhooks: a customer's event reaches its own webhooks and its
// partner's webhooks that include customers, never a partner webhook that
// does not, another partner's, or a sibling customer's; each delivery once.
func testPartnerWebhooks(t *testing.T, s *store.Store) {
	ctx := context.Background()
	org := func(name, partner string, isPartner bool) string {
		t.Helper()
		o, _, err := s.CreateOrganizationFull(ctx, vigil.OrganizationInput{Name: name, PartnerID: partner, IsPartner: isPartner,
			SkipDefaultSubscription: true}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		return o.ID
	}
	partner, other := org("Partner", "", true), org("Other partner", "", true)
	customer, sibling := org("Customer", partner, false), org("Sibling", partner, false)
	hook := func(orgID, name string, include bool) string {
		t.Helper()
		w := &vigil.Webhook{Name: name, URL: "https://hooks.example.com/" + name, Events: []string{vigil.EventExceptionCreated},
			Secret: "whsec_" + name, Active: true, IncludeCustomers: include}
		if err := s.CreateWebhook(ctx, orgID, "", w); err != nil {
			t.Fatal(err)
		}
		return w.ID
	}
	own := hook(customer, "own", false)
	msp := hook(partner, "msp", true)
	hook(partner, "partner-only", false)
	hook(other, "other-msp", true)
	hook(sibling, "sibling", true)

	text, nvt := "Accepted risk", "vigil.telnet-exposed"
	if _, err := s.CreateException(ctx, customer, "", vigil.ExceptionInput{Text: &text, NVT: &nvt}); err != nil {
		t.Fatal(err)
	}
	deliveries, _, n, err := s.DispatchEvents(ctx, 100)
	if err != nil || n != 1 {
		t.Fatalf("dispatch: %d events, %v", n, err)
	}
	var got []string
	for _, id := range deliveries {
		j, err := s.DeliveryForSending(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, j.Delivery.WebhookID)
		if j.Delivery.OrganizationID != customer && j.Delivery.WebhookID == own {
			t.Errorf("the customer's own delivery is filed under %s", j.Delivery.OrganizationID)
		}
	}
	want := []string{own, msp}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("deliveries went to %v, want the customer's own and the partner's including customers %v", got, want)
	}
	if again, _, n, err := s.DispatchEvents(ctx, 100); err != nil || n != 0 || len(again) != 0 {
		t.Errorf("a second dispatch: %d events, %d deliveries, %v", n, len(again), err)
	}
}
