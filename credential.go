package vigil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// CredentialType is the kind of login a credential holds; it matches the target
// credential slot it may be used in.
type CredentialType string

// Credential types.
const (
	CredentialSSH  CredentialType = "ssh"
	CredentialSMB  CredentialType = "smb"
	CredentialESXi CredentialType = "esxi"
	CredentialSNMP CredentialType = "snmp"
)

// CredentialTypes lists the accepted types.
var CredentialTypes = []CredentialType{CredentialSSH, CredentialSMB, CredentialESXi, CredentialSNMP}

// SNMP v3 protocols accepted for auth and privacy.
var (
	SNMPAuthProtocols = []string{"md5", "sha", "sha224", "sha256", "sha384", "sha512"}
	SNMPPrivProtocols = []string{"des", "aes", "aes192", "aes256", "aes192c", "aes256c"}
)

// Credential is a login used by authenticated scans. Secret fields are only
// ever held decrypted in memory; the store keeps them sealed and the API never
// returns them.
type Credential struct {
	ID             string
	OrganizationID string
	Name           string
	Comment        string
	Type           CredentialType
	Username       string
	Port           int               // ssh
	Domain         string            // smb
	SNMPVersion    string            // snmp: v2c or v3
	AuthProtocol   string            // snmp v3
	PrivProtocol   string            // snmp v3
	Secrets        CredentialSecrets // decrypted only by FindCredentialByID
	SecretsSet     []string          // names of the secrets that are set ("password", "private_key", ...)
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// SSHLogin is an ssh credential as a scanner node uses it for an
// authenticated scan: decrypted, held in memory for one run. It prints and
// logs without its secrets.
type SSHLogin struct {
	Username   string `json:"username"`
	Port       int    `json:"port"`
	Password   string `json:"password,omitempty"`
	PrivateKey string `json:"private_key,omitempty"`
	Passphrase string `json:"passphrase,omitempty"`
}

// SSHLogin returns the login of an ssh credential.
func (c *Credential) SSHLogin() *SSHLogin {
	return &SSHLogin{Username: c.Username, Port: c.Port, Password: c.Secrets.Password, PrivateKey: c.Secrets.PrivateKey,
		Passphrase: c.Secrets.Passphrase}
}

// String names the login without its secrets, so that %v never leaks them.
func (l SSHLogin) String() string {
	var with []string
	if l.Password != "" {
		with = append(with, "password")
	}
	if l.PrivateKey != "" {
		with = append(with, "private key")
	}
	return fmt.Sprintf("ssh %s port %d with %s (redacted)", l.Username, l.Port, strings.Join(with, " and "))
}

// GoString is String, for %#v.
func (l SSHLogin) GoString() string { return l.String() }

// LogValue keeps the secrets out of structured logs.
func (l SSHLogin) LogValue() slog.Value { return slog.StringValue(l.String()) }

// CredentialSecrets are the sealed fields of a credential.
type CredentialSecrets struct {
	Password     string `json:"password,omitempty"`
	PrivateKey   string `json:"private_key,omitempty"`
	Passphrase   string `json:"passphrase,omitempty"`
	Community    string `json:"community,omitempty"`
	AuthPassword string `json:"auth_password,omitempty"`
	PrivPassword string `json:"priv_password,omitempty"`
}

// CredentialInput is a create or partial update. nil leaves a field unchanged;
// "" clears a secret.
type CredentialInput struct {
	Name, Comment, Type, Username, Domain       *string
	Port                                        *int
	SNMPVersion, AuthProtocol, PrivProtocol     *string
	Password, PrivateKey, Passphrase, Community *string
	AuthPassword, PrivPassword                  *string
}

// CredentialList is the allow-list of GET /v2/credentials.
var CredentialList = ListSpec{
	Filters:     map[string]FilterKind{"name": FilterText, "comment": FilterText, "username": FilterText, "type": FilterExact, "id": FilterExact},
	Sorts:       []string{"name", "type", "username", "created_at", "updated_at"},
	DefaultSort: []Sort{{Column: "created_at", Desc: true}},
	DateColumn:  "created_at",
}

// ApplyCredentialInput validates in and applies it to c. The type is fixed once
// created. Fields that do not belong to the type are rejected, so a caller
// learns at once that e.g. a domain means nothing on an SSH login.
func ApplyCredentialInput(c *Credential, in CredentialInput, creating bool) error {
	v := NewValidation("credential")
	if in.Type != nil {
		if !creating && CredentialType(*in.Type) != c.Type {
			v.Add("type", "cannot be changed; create a new credential instead")
		}
		c.Type = CredentialType(*in.Type)
	}
	str := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	str(&c.Name, in.Name)
	str(&c.Comment, in.Comment)
	str(&c.Username, in.Username)
	str(&c.Domain, in.Domain)
	str(&c.SNMPVersion, in.SNMPVersion)
	str(&c.AuthProtocol, in.AuthProtocol)
	str(&c.PrivProtocol, in.PrivProtocol)
	str(&c.Secrets.Password, in.Password)
	str(&c.Secrets.PrivateKey, in.PrivateKey)
	str(&c.Secrets.Passphrase, in.Passphrase)
	str(&c.Secrets.Community, in.Community)
	str(&c.Secrets.AuthPassword, in.AuthPassword)
	str(&c.Secrets.PrivPassword, in.PrivPassword)
	if in.Port != nil {
		c.Port = *in.Port
	}

	checkText(v, "name", c.Name, MaxNameLen, true)
	checkText(v, "comment", c.Comment, MaxCommentLen, false)
	checkText(v, "username", c.Username, MaxNameLen, false)
	checkText(v, "domain", c.Domain, MaxNameLen, false)
	for field, s := range map[string]string{"password": c.Secrets.Password, "passphrase": c.Secrets.Passphrase,
		"community": c.Secrets.Community, "auth_password": c.Secrets.AuthPassword, "priv_password": c.Secrets.PrivPassword} {
		checkText(v, field, s, 1024, false)
	}
	checkText(v, "private_key", c.Secrets.PrivateKey, 32768, false)

	if c.Type == CredentialSNMP && c.SNMPVersion == "" {
		c.SNMPVersion = "v2c"
	}
	if c.Type == CredentialSSH && c.Port == 0 {
		c.Port = 22
	}
	// A field the type does not use is rejected, so a caller learns at once
	// that e.g. a domain means nothing on an SSH login.
	kind := string(c.Type)
	if c.Type == CredentialSNMP {
		kind += "-" + c.SNMPVersion
	}
	if allowed, ok := credentialFields[kind]; ok {
		for field, set := range c.fieldsSet() {
			if set && !allowed[field] {
				v.Addf(field, "is not used by %s credentials", strings.ReplaceAll(kind, "-", " "))
			}
		}
	}
	switch c.Type {
	case CredentialSSH:
		if c.Port < 1 || c.Port > 65535 {
			v.Add("port", "must be between 1 and 65535")
		}
		if c.Username == "" {
			v.Add("username", "can't be blank")
		}
		if c.Secrets.Password == "" && c.Secrets.PrivateKey == "" {
			v.Add("password", "a password or a private_key is required")
		}
		if c.Secrets.PrivateKey != "" {
			if err := checkPrivateKey(c.Secrets.PrivateKey, c.Secrets.Passphrase); err != nil {
				v.Add("private_key", err.Error())
			}
		} else if c.Secrets.Passphrase != "" {
			v.Add("passphrase", "is only used with a private_key")
		}
	case CredentialSMB, CredentialESXi:
		if c.Username == "" {
			v.Add("username", "can't be blank")
		}
		if c.Secrets.Password == "" {
			v.Add("password", "can't be blank")
		}
	case CredentialSNMP:
		switch c.SNMPVersion {
		case "v2c":
			if c.Secrets.Community == "" {
				v.Add("community", "can't be blank for SNMP v2c")
			}
		case "v3":
			if c.Username == "" {
				v.Add("username", "can't be blank for SNMP v3")
			}
			if !oneOf(c.AuthProtocol, SNMPAuthProtocols) {
				v.Addf("auth_protocol", "must be one of %v", SNMPAuthProtocols)
			}
			// RFC 3414 derives keys from passwords of at least 8 characters.
			if len(c.Secrets.AuthPassword) < 8 {
				v.Add("auth_password", "must be at least 8 characters")
			}
			if c.PrivProtocol != "" || c.Secrets.PrivPassword != "" {
				if !oneOf(c.PrivProtocol, SNMPPrivProtocols) {
					v.Addf("priv_protocol", "must be one of %v", SNMPPrivProtocols)
				}
				if len(c.Secrets.PrivPassword) < 8 {
					v.Add("priv_password", "must be at least 8 characters")
				}
			}
		default:
			v.Addf("snmp_version", "must be v2c or v3, got %q", c.SNMPVersion)
		}
	default:
		v.Addf("type", "must be one of ssh, smb, esxi, snmp; got %q", c.Type)
	}
	return v.Err()
}

// credentialFields are the optional fields each kind of credential uses
// (name and comment apply to all).
var credentialFields = map[string]map[string]bool{
	"ssh":      {"username": true, "port": true, "password": true, "private_key": true, "passphrase": true},
	"smb":      {"username": true, "password": true, "domain": true},
	"esxi":     {"username": true, "password": true},
	"snmp-v2c": {"snmp_version": true, "community": true},
	"snmp-v3":  {"snmp_version": true, "username": true, "auth_protocol": true, "auth_password": true, "priv_protocol": true, "priv_password": true},
}

// fieldsSet reports which optional fields carry a value.
func (c *Credential) fieldsSet() map[string]bool {
	return map[string]bool{
		"username": c.Username != "", "port": c.Port != 0 && !(c.Type == CredentialSSH && c.Port == 22), "domain": c.Domain != "",
		"snmp_version": c.SNMPVersion != "" && c.Type != CredentialSNMP, "auth_protocol": c.AuthProtocol != "",
		"priv_protocol": c.PrivProtocol != "", "password": c.Secrets.Password != "", "private_key": c.Secrets.PrivateKey != "",
		"passphrase": c.Secrets.Passphrase != "", "community": c.Secrets.Community != "",
		"auth_password": c.Secrets.AuthPassword != "", "priv_password": c.Secrets.PrivPassword != "",
	}
}

func checkPrivateKey(key, passphrase string) error {
	var err error
	if passphrase != "" {
		_, err = ssh.ParsePrivateKeyWithPassphrase([]byte(key), []byte(passphrase))
	} else {
		_, err = ssh.ParsePrivateKey([]byte(key))
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &missing):
		return errors.New("is encrypted; a passphrase is required")
	case passphrase != "":
		return errors.New("cannot be decrypted with the passphrase or is not a valid private key")
	}
	return errors.New("is not a valid PEM or OpenSSH private key")
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// CredentialService manages credentials, scoped to orgID.
type CredentialService interface {
	FindCredentials(ctx context.Context, orgID string, opts ListOptions) ([]*Credential, int, error)
	FindCredentialByID(ctx context.Context, orgID, id string) (*Credential, error)
	CreateCredential(ctx context.Context, orgID string, in CredentialInput) (*Credential, error)
	UpdateCredential(ctx context.Context, orgID, id string, in CredentialInput) (*Credential, error)
	// DeleteCredentials deletes all or none: ECONFLICT while a target uses one.
	DeleteCredentials(ctx context.Context, orgID string, ids []string) error
}
