package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// CredentialJSON is a credential on the wire. Secrets are write-only: the
// response says which are set, never what they are.
type CredentialJSON struct {
	ID              string               `json:"id" format:"uuid"`
	Name            string               `json:"name" example:"Linux servers"`
	Comment         string               `json:"comment"`
	Type            vigil.CredentialType `json:"type" enum:"ssh,smb,esxi,snmp"`
	Username        string               `json:"username,omitempty" example:"scanner"`
	Port            int                  `json:"port,omitempty" doc:"SSH port" example:"22"`
	Domain          string               `json:"domain,omitempty" doc:"SMB domain"`
	SNMPVersion     string               `json:"snmp_version,omitempty" enum:"v2c,v3"`
	AuthProtocol    string               `json:"auth_protocol,omitempty" doc:"SNMP v3 authentication protocol"`
	PrivProtocol    string               `json:"priv_protocol,omitempty" doc:"SNMP v3 privacy protocol"`
	HasPassword     bool                 `json:"has_password"`
	HasPrivateKey   bool                 `json:"has_private_key"`
	HasPassphrase   bool                 `json:"has_passphrase"`
	HasCommunity    bool                 `json:"has_community"`
	HasAuthPassword bool                 `json:"has_auth_password"`
	HasPrivPassword bool                 `json:"has_priv_password"`
	CreatedAt       Timestamp            `json:"created_at"`
	UpdatedAt       Timestamp            `json:"updated_at"`
}

func credentialJSON(c *vigil.Credential) CredentialJSON {
	out := CredentialJSON{ID: c.ID, Name: c.Name, Comment: c.Comment, Type: c.Type, Username: c.Username, Port: c.Port,
		Domain: c.Domain, SNMPVersion: c.SNMPVersion, AuthProtocol: c.AuthProtocol, PrivProtocol: c.PrivProtocol,
		CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt)}
	for _, name := range c.SecretsSet {
		switch name {
		case "password":
			out.HasPassword = true
		case "private_key":
			out.HasPrivateKey = true
		case "passphrase":
			out.HasPassphrase = true
		case "community":
			out.HasCommunity = true
		case "auth_password":
			out.HasAuthPassword = true
		case "priv_password":
			out.HasPrivPassword = true
		}
	}
	return out
}

// CredentialFields are the writable fields. Which apply depends on type:
// ssh (username, password or private_key [+ passphrase], port), smb
// (username, password, domain), esxi (username, password), snmp (v2c:
// community; v3: username, auth_protocol, auth_password, priv_protocol,
// priv_password). On update, fields left out keep their values and "" clears
// a secret.
type CredentialFields struct {
	Name         *string `json:"name,omitempty" maxLength:"255" example:"Linux servers"`
	Comment      *string `json:"comment,omitempty" maxLength:"4000"`
	Type         *string `json:"type,omitempty" enum:"ssh,smb,esxi,snmp" doc:"Fixed once created"`
	Username     *string `json:"username,omitempty" maxLength:"255" example:"scanner"`
	Password     *string `json:"password,omitempty" maxLength:"1024" writeOnly:"true"`
	PrivateKey   *string `json:"private_key,omitempty" maxLength:"32768" writeOnly:"true" doc:"PEM or OpenSSH private key"`
	Passphrase   *string `json:"passphrase,omitempty" maxLength:"1024" writeOnly:"true" doc:"Passphrase of an encrypted private key"`
	Port         *int    `json:"port,omitempty" minimum:"1" maximum:"65535" doc:"SSH port (default 22)"`
	Domain       *string `json:"domain,omitempty" maxLength:"255" doc:"SMB domain"`
	SNMPVersion  *string `json:"snmp_version,omitempty" enum:"v2c,v3" doc:"Default v2c"`
	Community    *string `json:"community,omitempty" maxLength:"1024" writeOnly:"true" doc:"SNMP v2c community"`
	AuthProtocol *string `json:"auth_protocol,omitempty" enum:"md5,sha,sha224,sha256,sha384,sha512"`
	AuthPassword *string `json:"auth_password,omitempty" maxLength:"1024" writeOnly:"true"`
	PrivProtocol *string `json:"priv_protocol,omitempty" enum:"des,aes,aes192,aes256,aes192c,aes256c"`
	PrivPassword *string `json:"priv_password,omitempty" maxLength:"1024" writeOnly:"true"`
}

func (f *CredentialFields) input() vigil.CredentialInput {
	return vigil.CredentialInput{Name: f.Name, Comment: f.Comment, Type: f.Type, Username: f.Username, Domain: f.Domain,
		Port: f.Port, SNMPVersion: f.SNMPVersion, AuthProtocol: f.AuthProtocol, PrivProtocol: f.PrivProtocol,
		Password: f.Password, PrivateKey: f.PrivateKey, Passphrase: f.Passphrase, Community: f.Community,
		AuthPassword: f.AuthPassword, PrivPassword: f.PrivPassword}
}

// CredentialOutput is one credential under data.
type CredentialOutput struct {
	Body struct {
		Data CredentialJSON `json:"data"`
	}
}

func credentialOutput(c *vigil.Credential) *CredentialOutput {
	out := &CredentialOutput{}
	out.Body.Data = credentialJSON(c)
	return out
}

func (s *Server) handleCredentialList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[CredentialJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.CredentialList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	cs, total, err := s.Credentials.FindCredentials(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(cs, credentialJSON, opts, total), nil
}

func (s *Server) handleCredentialShow(ctx context.Context, in *IDPath) (*CredentialOutput, error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	c, err := s.Credentials.FindCredentialByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return credentialOutput(c), nil
}

// CredentialCreateInput is POST /v2/credentials.
type CredentialCreateInput struct {
	Body struct {
		Credential CredentialFields `json:"credential"`
	}
}

func (s *Server) handleCredentialCreate(ctx context.Context, in *CredentialCreateInput) (*CredentialOutput, error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	f := in.Body.Credential
	if f.Type == nil {
		return nil, fail(ctx, s.log, vigil.FieldError("credential.type", "can't be blank"))
	}
	c, err := s.Credentials.CreateCredential(ctx, p.OrganizationID, f.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "credential.create", c.ID)
	return credentialOutput(c), nil
}

// CredentialUpdateInput is PUT /v2/credentials/{id}.
type CredentialUpdateInput struct {
	IDPath
	Body struct {
		Credential CredentialFields `json:"credential"`
	}
}

func (s *Server) handleCredentialUpdate(ctx context.Context, in *CredentialUpdateInput) (*CredentialOutput, error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	c, err := s.Credentials.UpdateCredential(ctx, p.OrganizationID, in.ID, in.Body.Credential.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "credential.update", c.ID)
	return credentialOutput(c), nil
}

func (s *Server) handleCredentialDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	return s.deleteRecords(ctx, "credential.delete", "", []string{in.ID}, nil, s.Credentials.DeleteCredentials)
}

func (s *Server) handleCredentialBulkDelete(ctx context.Context, in *BulkDeleteInput) (*DeleteOutput, error) {
	ids, err := in.ids()
	return s.deleteRecords(ctx, "credential.delete", "", ids, err, s.Credentials.DeleteCredentials)
}
