package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	_ "image/gif" // logo formats accepted
	_ "image/jpeg"
	_ "image/png"
	"strings"

	"github.com/vigilscan/vigil"
)

// Whitelabel settings (CG §3.18): a partner's branding for its portal,
// e-mails and reports. Customers inherit their partner's.

// WhitelabelJSON is the branding on the wire.
type WhitelabelJSON struct {
	OrganizationID string     `json:"organization_id" format:"uuid" doc:"Whose settings these are (a partner's when inherited)"`
	Inherited      bool       `json:"inherited" doc:"The settings are the partner's, not the organization's own"`
	CompanyName    string     `json:"company_name"`
	Logo           *string    `json:"logo" nullable:"true" doc:"The logo as a data: URI"`
	PrimaryColor   string     `json:"primary_color" example:"#0a5cff"`
	SecondaryColor string     `json:"secondary_color"`
	SupportEmail   string     `json:"support_email"`
	EmailFromName  string     `json:"email_from_name,omitempty"`
	Domain         string     `json:"domain"`
	ReportBranding bool       `json:"report_branding" doc:"Reports carry the logo and company name"`
	UpdatedAt      *Timestamp `json:"updated_at" nullable:"true"`
}

func whitelabelJSON(w *vigil.Whitelabel, orgID string, public bool) WhitelabelJSON {
	j := WhitelabelJSON{OrganizationID: w.OrganizationID, Inherited: w.OrganizationID != orgID, CompanyName: w.CompanyName,
		PrimaryColor: w.PrimaryColor, SecondaryColor: w.SecondaryColor, SupportEmail: w.SupportEmail, Domain: w.Domain,
		ReportBranding: w.ReportBranding}
	if len(w.Logo) > 0 {
		uri := "data:" + w.LogoContentType + ";base64," + base64.StdEncoding.EncodeToString(w.Logo)
		j.Logo = &uri
	}
	if !public {
		j.EmailFromName = w.EmailFromName
		t := ts(w.UpdatedAt)
		j.UpdatedAt = &t
	} else {
		j.OrganizationID = ""
	}
	return j
}

func (s *Server) handleWhitelabelShow(ctx context.Context, _ *struct{}) (*DataOutput[WhitelabelJSON], error) {
	p, err := permit(ctx, vigil.PermRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w, err := s.Tenancy.Whitelabel(ctx, p.OrganizationID)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		w, err = &vigil.Whitelabel{OrganizationID: p.OrganizationID, ReportBranding: true}, nil
	}
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(whitelabelJSON(w, p.OrganizationID, false)), nil
}

// WhitelabelDomainInput is GET /v2/whitelabel_settings/public.
type WhitelabelDomainInput struct {
	Domain string `query:"domain" maxLength:"253" doc:"The portal's host name, as the login page sees it"`
}

// handleWhitelabelPublic serves a login page the branding of its domain,
// without credentials: only what the page shows.
func (s *Server) handleWhitelabelPublic(ctx context.Context, in *WhitelabelDomainInput) (*DataOutput[WhitelabelJSON], error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in.Domain), "."))
	if d == "" {
		return nil, fail(ctx, s.log, vigil.FieldError("domain", "can't be blank"))
	}
	w, err := s.Tenancy.WhitelabelByDomain(ctx, d)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(whitelabelJSON(w, "", true)), nil
}

// WhitelabelUpdateInput is PUT /v2/whitelabel_settings.
type WhitelabelUpdateInput struct {
	Body struct {
		WhitelabelSetting struct {
			CompanyName    *string `json:"company_name,omitempty" maxLength:"255"`
			Logo           *string `json:"logo,omitempty" maxLength:"720000" doc:"PNG, JPEG or GIF, at most 512 KiB and 4096x4096, as a data: URI or plain base64; \"\" removes it"`
			PrimaryColor   *string `json:"primary_color,omitempty" maxLength:"7" example:"#0a5cff"`
			SecondaryColor *string `json:"secondary_color,omitempty" maxLength:"7"`
			SupportEmail   *string `json:"support_email,omitempty" maxLength:"254"`
			EmailFromName  *string `json:"email_from_name,omitempty" maxLength:"255"`
			Domain         *string `json:"domain,omitempty" maxLength:"253" doc:"Custom portal domain; unique across the installation"`
			ReportBranding *bool   `json:"report_branding,omitempty"`
		} `json:"whitelabel_setting"`
	}
}

// decodeLogo checks an uploaded logo: real image data of an allowed format
// and size. SVG is refused: it can carry scripts.
func decodeLogo(s string) ([]byte, string, error) {
	if s == "" {
		return []byte{}, "", nil
	}
	if strings.HasPrefix(s, "data:") {
		meta, data, ok := strings.Cut(s, ",")
		if !ok || !strings.HasSuffix(meta, ";base64") {
			return nil, "", vigil.FieldError("whitelabel_setting.logo", "must be a base64 data: URI")
		}
		s = data
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, "", vigil.FieldError("whitelabel_setting.logo", "is not valid base64")
	}
	if len(raw) > vigil.MaxLogoBytes {
		return nil, "", vigil.FieldError("whitelabel_setting.logo", "is larger than %d KiB", vigil.MaxLogoBytes>>10)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, "", vigil.FieldError("whitelabel_setting.logo", "is not a PNG, JPEG or GIF image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > 4096 || cfg.Height > 4096 {
		return nil, "", vigil.FieldError("whitelabel_setting.logo", "must be at most 4096x4096 pixels")
	}
	return raw, "image/" + format, nil
}

func (s *Server) handleWhitelabelUpdate(ctx context.Context, in *WhitelabelUpdateInput) (*DataOutput[WhitelabelJSON], error) {
	p, err := permit(ctx, vigil.PermWhitelabel)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	b := in.Body.WhitelabelSetting
	upd := vigil.WhitelabelUpdate{CompanyName: b.CompanyName, PrimaryColor: b.PrimaryColor, SecondaryColor: b.SecondaryColor,
		SupportEmail: b.SupportEmail, EmailFromName: b.EmailFromName, Domain: b.Domain, ReportBranding: b.ReportBranding}
	if b.Logo != nil {
		if upd.Logo, upd.LogoContentType, err = decodeLogo(*b.Logo); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	if err := upd.Validate(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	w, err := s.Tenancy.UpdateWhitelabel(ctx, p.OrganizationID, upd)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "whitelabel.update", "organization", p.OrganizationID, changedFields(map[string]bool{"company_name": b.CompanyName != nil,
		"logo": b.Logo != nil, "primary_color": b.PrimaryColor != nil, "secondary_color": b.SecondaryColor != nil,
		"support_email": b.SupportEmail != nil, "email_from_name": b.EmailFromName != nil, "domain": b.Domain != nil,
		"report_branding": b.ReportBranding != nil}))
	return dataOutput(whitelabelJSON(w, p.OrganizationID, false)), nil
}
