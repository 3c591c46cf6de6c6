package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// Notification preferences of the current user (CG §3.15 User Preferences).

// NotificationParamsJSON narrow when an event notifies.
type NotificationParamsJSON struct {
	WhenStatus  []string `json:"when_status" doc:"Scan states that notify: started, completed, stopped, failed; empty: all"`
	IfCompleted []string `json:"if_completed" doc:"PCI outcomes of completed scans that notify: pass, fail; empty: both"`
	IfSeverity  []int    `json:"if_severity" doc:"Severities (0-10) that notify; empty: all"`
}

// PreferenceAttributes are a preference's attributes.
type PreferenceAttributes struct {
	Name             string                 `json:"name" enum:"scan_event,report_event,exception_event,overdue_pci_reminder"`
	NotificationType string                 `json:"notification_type"`
	Enabled          bool                   `json:"enabled" doc:"In-app notifications (default on)"`
	Email            bool                   `json:"email" doc:"Also by e-mail (default off)"`
	Code             *string                `json:"code" nullable:"true"`
	Params           NotificationParamsJSON `json:"params"`
	CreatedAt        *Timestamp             `json:"created_at" nullable:"true" doc:"Null while the default applies"`
	UpdatedAt        *Timestamp             `json:"updated_at" nullable:"true"`
}

// PreferenceResource is the CONFIRMED notification_preferences object.
type PreferenceResource struct {
	ID         *string              `json:"id" nullable:"true" format:"uuid"`
	Type       string               `json:"type" example:"notification_preferences"`
	Attributes PreferenceAttributes `json:"attributes"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func preferenceResource(p *vigil.NotificationPreference) PreferenceResource {
	a := PreferenceAttributes{Name: p.Name, NotificationType: p.Name, Enabled: p.Enabled, Email: p.Email, Params: NotificationParamsJSON{
		WhenStatus: nonNil(p.Params.WhenStatus), IfCompleted: nonNil(p.Params.IfCompleted), IfSeverity: nonNil(p.Params.IfSeverity)}}
	r := PreferenceResource{Type: "notification_preferences", Attributes: a}
	if p.ID != "" {
		r.ID = &p.ID
		c, u := ts(p.CreatedAt), ts(p.UpdatedAt)
		r.Attributes.CreatedAt, r.Attributes.UpdatedAt = &c, &u
	}
	return r
}

func (s *Server) handlePreferenceList(ctx context.Context, _ *struct{}) (*DataOutput[[]PreferenceResource], error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	prefs, err := s.Preferences.NotificationPreferences(ctx, p.OrganizationID, p.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(convert(prefs, preferenceResource)), nil
}

// PreferenceName names a preference in the path.
type PreferenceName struct {
	Name string `path:"name" enum:"scan_event,report_event,exception_event,overdue_pci_reminder"`
}

// PreferenceUpdateInput is PUT /v2/user/preferences/notifications/{name}.
type PreferenceUpdateInput struct {
	PreferenceName
	Body struct {
		Enabled     *bool    `json:"enabled,omitempty"`
		Email       *bool    `json:"email,omitempty" doc:"Also e-mail these events"`
		WhenStatus  []string `json:"when_status,omitempty" maxItems:"4"`
		IfCompleted []string `json:"if_completed,omitempty" maxItems:"2"`
		IfStatus    []string `json:"if_status,omitempty" maxItems:"2" doc:"Alias of if_completed (the CG request example's name)"`
		IfSeverity  []int    `json:"if_severity,omitempty" maxItems:"11"`
	}
}

func (s *Server) handlePreferenceUpdate(ctx context.Context, in *PreferenceUpdateInput) (*DataOutput[PreferenceResource], error) {
	b := in.Body
	params := &vigil.NotificationParams{WhenStatus: b.WhenStatus, IfCompleted: b.IfCompleted, IfSeverity: b.IfSeverity}
	if params.IfCompleted == nil {
		params.IfCompleted = b.IfStatus
	}
	if err := params.Validate(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return s.setPreference(ctx, in.Name, b.Enabled, b.Email, params)
}

func (s *Server) handlePreferenceEnable(ctx context.Context, in *PreferenceName) (*DataOutput[PreferenceResource], error) {
	on := true
	return s.setPreference(ctx, in.Name, &on, nil, nil)
}

func (s *Server) handlePreferenceDisable(ctx context.Context, in *PreferenceName) (*DataOutput[PreferenceResource], error) {
	off := false
	return s.setPreference(ctx, in.Name, &off, nil, nil)
}

func (s *Server) setPreference(ctx context.Context, name string, enabled, email *bool, params *vigil.NotificationParams) (*DataOutput[PreferenceResource], error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	pref, err := s.Preferences.SetNotificationPreference(ctx, p.OrganizationID, p.UserID, name, enabled, email, params)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "user.notification_preference", "notification_preference", pref.ID, map[string]any{"name": name, "enabled": pref.Enabled, "email": pref.Email})
	return dataOutput(preferenceResource(pref)), nil
}
