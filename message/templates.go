package message

import "github.com/vigilscan/vigil"

// Template names.
const (
	TemplateConfirm   = "confirm"
	TemplateInvite    = "invite"
	TemplateReset     = "reset_password"
	TemplateSMSCode   = "sms_code"
	TemplatePassword  = "password_changed"
	TemplateMFAChange = "mfa_changed"
	TemplateNotice    = "notification" // an event the user opted into by e-mail
)

type template struct {
	channel, subject, text, html string
}

const htmlHead = `<!doctype html><html><body style="font-family:sans-serif;color:#222">`
const htmlFoot = `<p style="color:#777;font-size:12px">{{.CompanyName}}{{if .SupportEmail}} · <a href="mailto:{{.SupportEmail}}">{{.SupportEmail}}</a>{{end}}</p></body></html>`
const textFoot = "\n--\n{{.CompanyName}}{{if .SupportEmail}} · {{.SupportEmail}}{{end}}\n"

// templates are the messages Vigil sends, each in plain text and HTML.
var templates = map[string]template{
	TemplateConfirm: {channel: vigil.ChannelEmail,
		subject: "Confirm your {{.CompanyName}} account",
		text:    "Hello {{.Name}},\n\nConfirm your e-mail address {{.Email}} to start using {{.CompanyName}}:\n\n{{.Link}}\n\nThe link works once and expires {{.Expiry}}.\n" + textFoot,
		html:    htmlHead + `<p>Hello {{.Name}},</p><p>Confirm your e-mail address {{.Email}} to start using {{.CompanyName}}:</p><p><a href="{{.Link}}">Confirm my account</a></p><p>The link works once and expires {{.Expiry}}.</p>` + htmlFoot},
	TemplateInvite: {channel: vigil.ChannelEmail,
		subject: "You are invited to {{.CompanyName}}",
		text:    "Hello,\n\n{{index .Extra \"inviter\"}} invited you ({{.Email}}) to the organization {{index .Extra \"organization\"}} on {{.CompanyName}}. Accept and choose a password:\n\n{{.Link}}\n\nThe invitation expires {{.Expiry}}.\n" + textFoot,
		html:    htmlHead + `<p>Hello,</p><p>{{index .Extra "inviter"}} invited you ({{.Email}}) to the organization {{index .Extra "organization"}} on {{.CompanyName}}.</p><p><a href="{{.Link}}">Accept the invitation</a></p><p>The invitation expires {{.Expiry}}.</p>` + htmlFoot},
	TemplateReset: {channel: vigil.ChannelEmail,
		subject: "Reset your {{.CompanyName}} password",
		text:    "Hello {{.Name}},\n\nSomeone asked to reset the password of {{.Email}}. If it was you, choose a new one here:\n\n{{.Link}}\n\nThe link works once and expires {{.Expiry}}. If it was not you, ignore this e-mail: your password stays as it is.\n" + textFoot,
		html:    htmlHead + `<p>Hello {{.Name}},</p><p>Someone asked to reset the password of {{.Email}}. If it was you, choose a new one:</p><p><a href="{{.Link}}">Reset my password</a></p><p>The link works once and expires {{.Expiry}}. If it was not you, ignore this e-mail.</p>` + htmlFoot},
	TemplatePassword: {channel: vigil.ChannelEmail,
		subject: "Your {{.CompanyName}} password was changed",
		text:    "Hello {{.Name}},\n\nThe password of {{.Email}} was changed and your other sessions were signed out. If this was not you, contact {{if .SupportEmail}}{{.SupportEmail}}{{else}}your administrator{{end}} now.\n" + textFoot,
		html:    htmlHead + `<p>Hello {{.Name}},</p><p>The password of {{.Email}} was changed and your other sessions were signed out. If this was not you, contact {{if .SupportEmail}}{{.SupportEmail}}{{else}}your administrator{{end}} now.</p>` + htmlFoot},
	TemplateMFAChange: {channel: vigil.ChannelEmail,
		subject: "Two-factor authentication changed on your {{.CompanyName}} account",
		text:    "Hello {{.Name}},\n\n{{index .Extra \"change\"}}. If this was not you, contact {{if .SupportEmail}}{{.SupportEmail}}{{else}}your administrator{{end}} now.\n" + textFoot,
		html:    htmlHead + `<p>Hello {{.Name}},</p><p>{{index .Extra "change"}}. If this was not you, contact {{if .SupportEmail}}{{.SupportEmail}}{{else}}your administrator{{end}} now.</p>` + htmlFoot},
	TemplateNotice: {channel: vigil.ChannelEmail,
		subject: "[{{.CompanyName}}] {{index .Extra \"title\"}}",
		text:    "Hello {{.Name}},\n\n{{index .Extra \"message\"}}\n\n{{.Link}}\n\nYou get this e-mail because you asked for {{index .Extra \"kind\"}} e-mails; change that in your notification preferences.\n" + textFoot,
		html:    htmlHead + `<p>Hello {{.Name}},</p><p>{{index .Extra "message"}}</p><p><a href="{{.Link}}">Open in {{.CompanyName}}</a></p><p style="color:#777">You get this e-mail because you asked for {{index .Extra "kind"}} e-mails; change that in your notification preferences.</p>` + htmlFoot},
	TemplateSMSCode: {channel: vigil.ChannelSMS,
		subject: "",
		text:    "{{.Code}} is your {{.CompanyName}} verification code. It expires {{.Expiry}}.",
	},
}
