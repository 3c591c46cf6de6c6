package httpapi

import (
	"context"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
)

// TargetJSON is a target on the wire.
type TargetJSON struct {
	ID           string             `json:"id" format:"uuid"`
	Name         string             `json:"name" example:"Web servers"`
	Hosts        string             `json:"hosts" example:"192.0.2.0/24, www.example.com"`
	ExcludeHosts string             `json:"exclude_hosts" example:"192.0.2.5"`
	Comment      string             `json:"comment"`
	PortListID   string             `json:"port_list_id" format:"uuid"`
	AliveTest    vigil.AliveTest    `json:"alive_test" enum:"scan_config_default,icmp,tcp_syn,consider_alive"`
	Credentials  CredentialRefsJSON `json:"credentials"`
	HostCount    int64              `json:"host_count" doc:"Addresses and hostnames after exclusions" example:"253"`
	CreatedAt    Timestamp          `json:"created_at"`
	UpdatedAt    Timestamp          `json:"updated_at"`
}

// CredentialRefsJSON are a target's credential slots; null when empty.
type CredentialRefsJSON struct {
	SSH  *string `json:"ssh" format:"uuid"`
	SMB  *string `json:"smb" format:"uuid"`
	ESXi *string `json:"esxi" format:"uuid"`
	SNMP *string `json:"snmp" format:"uuid"`
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func targetJSON(t *vigil.Target) TargetJSON {
	return TargetJSON{ID: t.ID, Name: t.Name, Hosts: t.Hosts, ExcludeHosts: t.ExcludeHosts, Comment: t.Comment,
		PortListID: t.PortListID, AliveTest: t.AliveTest, HostCount: t.HostCount,
		Credentials: CredentialRefsJSON{SSH: orNil(t.Credentials.SSH), SMB: orNil(t.Credentials.SMB),
			ESXi: orNil(t.Credentials.ESXi), SNMP: orNil(t.Credentials.SNMP)},
		CreatedAt: ts(t.CreatedAt), UpdatedAt: ts(t.UpdatedAt)}
}

// CredentialRefsInput sets credential slots: a credential id, or "" to empty
// the slot. Slots left out (or null) keep their value.
type CredentialRefsInput struct {
	SSH  *string `json:"ssh,omitempty" nullable:"true" doc:"Id of an ssh credential, or \"\" to remove"`
	SMB  *string `json:"smb,omitempty" nullable:"true" doc:"Id of an smb credential, or \"\" to remove"`
	ESXi *string `json:"esxi,omitempty" nullable:"true" doc:"Id of an esxi credential, or \"\" to remove"`
	SNMP *string `json:"snmp,omitempty" nullable:"true" doc:"Id of an snmp credential, or \"\" to remove"`
}

// TargetFields are the writable fields of a target; on update, fields left
// out keep their values.
type TargetFields struct {
	Name         *string              `json:"name,omitempty" maxLength:"255" example:"Web servers"`
	Hosts        *string              `json:"hosts,omitempty" maxLength:"65536" doc:"IPv4/IPv6 addresses, CIDRs, ranges (192.0.2.1-192.0.2.20 or 192.0.2.1-20) and hostnames, separated by commas or whitespace" example:"192.0.2.0/24, www.example.com"`
	ExcludeHosts *string              `json:"exclude_hosts,omitempty" maxLength:"65536" doc:"Same syntax as hosts; removed from them" example:"192.0.2.5"`
	Credentials  *CredentialRefsInput `json:"credentials,omitempty"`
	PortListID   *string              `json:"port_list_id,omitempty" doc:"Port list id; default: the built-in Common TCP list"`
	AliveTest    *string              `json:"alive_test,omitempty" enum:"scan_config_default,icmp,tcp_syn,consider_alive" doc:"How hosts are found alive (default scan_config_default)"`
	Comment      *string              `json:"comment,omitempty" maxLength:"4000"`
}

func (f *TargetFields) input() vigil.TargetInput {
	in := vigil.TargetInput{Name: f.Name, Hosts: f.Hosts, ExcludeHosts: f.ExcludeHosts, Comment: f.Comment,
		PortListID: f.PortListID, AliveTest: f.AliveTest}
	if c := f.Credentials; c != nil {
		in.Credentials = &vigil.CredentialRefsInput{SSH: c.SSH, SMB: c.SMB, ESXi: c.ESXi, SNMP: c.SNMP}
	}
	return in
}

// TargetOutput is one target under data.
type TargetOutput struct {
	Body struct {
		Data TargetJSON `json:"data"`
	}
}

func targetOutput(t *vigil.Target) *TargetOutput {
	out := &TargetOutput{}
	out.Body.Data = targetJSON(t)
	return out
}

// IDPath is the {id} of member routes.
type IDPath struct {
	ID string `path:"id" doc:"Record id (UUID)"`
}

func (s *Server) handleTargetList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[TargetJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.TargetList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	restrict(p, &opts)
	ts, total, err := s.Targets.FindTargets(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(ts, targetJSON, opts, total), nil
}

func (s *Server) handleTargetShow(ctx context.Context, in *IDPath) (*TargetOutput, error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceTarget, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	t, err := s.Targets.FindTargetByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return targetOutput(t), nil
}

// TargetCreateFields are TargetFields with name and hosts required.
type TargetCreateFields struct {
	Name         string               `json:"name" minLength:"1" maxLength:"255" example:"Web servers"`
	Hosts        string               `json:"hosts" minLength:"1" maxLength:"65536" doc:"IPv4/IPv6 addresses, CIDRs, ranges (192.0.2.1-192.0.2.20 or 192.0.2.1-20) and hostnames, separated by commas or whitespace" example:"192.0.2.0/24, www.example.com"`
	ExcludeHosts *string              `json:"exclude_hosts,omitempty" maxLength:"65536" doc:"Same syntax as hosts; removed from them" example:"192.0.2.5"`
	Credentials  *CredentialRefsInput `json:"credentials,omitempty"`
	PortListID   *string              `json:"port_list_id,omitempty" doc:"Port list id; default: the built-in Common TCP list"`
	AliveTest    *string              `json:"alive_test,omitempty" enum:"scan_config_default,icmp,tcp_syn,consider_alive" doc:"How hosts are found alive (default scan_config_default)"`
	Comment      *string              `json:"comment,omitempty" maxLength:"4000"`
}

// TargetCreateInput is POST /v2/targets.
type TargetCreateInput struct {
	Body struct {
		Target TargetCreateFields `json:"target"`
	}
}

func (s *Server) handleTargetCreate(ctx context.Context, in *TargetCreateInput) (*TargetOutput, error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	c := in.Body.Target
	f := TargetFields{Name: &c.Name, Hosts: &c.Hosts, ExcludeHosts: c.ExcludeHosts, Credentials: c.Credentials,
		PortListID: c.PortListID, AliveTest: c.AliveTest, Comment: c.Comment}
	t, err := s.Targets.CreateTarget(ctx, p.OrganizationID, f.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "target.create", t.ID)
	return targetOutput(t), nil
}

// TargetUpdateInput is PUT /v2/targets/{id}.
type TargetUpdateInput struct {
	IDPath
	Body struct {
		Target TargetFields `json:"target"`
	}
}

func (s *Server) handleTargetUpdate(ctx context.Context, in *TargetUpdateInput) (*TargetOutput, error) {
	p, err := s.onResource(ctx, vigil.ActionWrite, vigil.ResourceTarget, in.ID, vigil.AccessEdit)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	t, err := s.Targets.UpdateTarget(ctx, p.OrganizationID, in.ID, in.Body.Target.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "target.update", t.ID)
	return targetOutput(t), nil
}

func (s *Server) handleTargetDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	return s.deleteRecords(ctx, "target.delete", vigil.ResourceTarget, []string{in.ID}, nil, s.Targets.DeleteTargets)
}

func (s *Server) handleTargetBulkDelete(ctx context.Context, in *BulkDeleteInput) (*DeleteOutput, error) {
	ids, err := in.ids()
	return s.deleteRecords(ctx, "target.delete", vigil.ResourceTarget, ids, err, s.Targets.DeleteTargets)
}

// deleteRecords runs a (bulk) delete for a caller allowed to write; idsErr
// is a problem found while reading the ids, reported after the role check.
func (s *Server) deleteRecords(ctx context.Context, action, kind string, ids []string, idsErr error,
	del func(ctx context.Context, orgID string, ids []string) error) (*DeleteOutput, error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if idsErr != nil {
		return nil, fail(ctx, s.log, idsErr)
	}
	for _, id := range ids {
		if err := s.checkAccess(ctx, p, kind, id, vigil.AccessEdit); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	if err := del(ctx, p.OrganizationID, ids); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, action, ids...)
	return deleteOutput(ids), nil
}

// CalculateHostsInput is POST /v2/targets/calculate_hosts.
type CalculateHostsInput struct {
	Body struct {
		Target struct {
			Hosts        string `json:"hosts" maxLength:"65536" example:"192.0.2.0/24"`
			ExcludeHosts string `json:"exclude_hosts,omitempty" maxLength:"65536" example:"192.0.2.0/30"`
		} `json:"target"`
	}
}

// HostCountJSON is the count of hosts after exclusions.
type HostCountJSON struct {
	Count    int64 `json:"count" example:"252"`
	MaxHosts int64 `json:"max_hosts" doc:"The most a single target may hold" example:"4096"`
}

// CalculateHostsOutput is the answer of calculate_hosts.
type CalculateHostsOutput struct {
	Body struct {
		Data HostCountJSON `json:"data"`
	}
}

func (s *Server) handleTargetCalculateHosts(ctx context.Context, in *CalculateHostsInput) (*CalculateHostsOutput, error) {
	if _, err := principal(ctx, vigil.ActionRead); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	v := vigil.NewValidation("target")
	hosts, err := vigil.ParseHostSpec(in.Body.Target.Hosts)
	if err != nil {
		v.Add("hosts", err.Error())
	}
	exclude, err := vigil.ParseHostSpec(in.Body.Target.ExcludeHosts)
	if err != nil {
		v.Add("exclude_hosts", err.Error())
	}
	if err := v.Err(); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &CalculateHostsOutput{}
	out.Body.Data.Count = hosts.Count(exclude)
	out.Body.Data.MaxHosts = s.cfg.MaxTargetHosts
	return out, nil
}

// ListOutput is a page of items with the pagination meta block.
type ListOutput[T any] struct {
	Body struct {
		Data []T      `json:"data"`
		Meta ListMeta `json:"meta"`
	}
}

func listOutput[D any, T any](items []D, conv func(D) T, opts vigil.ListOptions, total int) *ListOutput[T] {
	out := &ListOutput[T]{}
	out.Body.Data = make([]T, len(items))
	for i, it := range items {
		out.Body.Data[i] = conv(it)
	}
	out.Body.Meta = vigil.NewListMeta(opts, total)
	return out
}

// BulkIDs is the body of bulk deletes.
type BulkIDs struct {
	IDs []string `json:"ids" maxItems:"1000" doc:"Ids to delete: all of them or, if one is missing or in use, none"`
}

// BulkDeleteInput takes ids in the body ({"ids": [...]}) or the query
// (ids[]=a&ids[]=b, or ids=a,b).
type BulkDeleteInput struct {
	Body  *BulkIDs `required:"false"`
	query []string
}

// Resolve reads ids from the query string.
func (in *BulkDeleteInput) Resolve(ctx huma.Context) []error {
	in.query = queryIDs(ctx)
	return nil
}

// queryIDs reads ids[]=a&ids[]=b or ids=a,b from the query string.
func queryIDs(ctx huma.Context) []string {
	u := ctx.URL()
	q := u.Query()
	var ids []string
	for _, key := range []string{"ids[]", "ids"} {
		for _, v := range q[key] {
			ids = append(ids, splitComma(v)...)
		}
	}
	return ids
}

func (in *BulkDeleteInput) ids() ([]string, error) {
	ids := in.query
	if in.Body != nil {
		ids = append(ids, in.Body.IDs...)
	}
	if len(ids) == 0 {
		return nil, vigil.FieldError("ids", "can't be blank")
	}
	if len(ids) > 1000 {
		return nil, vigil.FieldError("ids", "at most 1000 ids per request")
	}
	return ids, nil
}

// DeleteResultJSON names what was deleted.
type DeleteResultJSON struct {
	IDs     []string `json:"ids"`
	Deleted int      `json:"deleted" example:"1"`
}

// DeleteOutput confirms a deletion.
type DeleteOutput struct {
	Body struct {
		Data DeleteResultJSON `json:"data"`
	}
}

func deleteOutput(ids []string) *DeleteOutput {
	out := &DeleteOutput{}
	out.Body.Data.IDs, out.Body.Data.Deleted = ids, len(ids)
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if part := s[start:i]; part != "" {
				out = append(out, part)
			}
			start = i + 1
		}
	}
	return out
}

// auditIDs records an action on resources given by id: the resource type is
// the action's prefix ("target.create" is about a target).
func (s *Server) auditIDs(ctx context.Context, _ *vigil.Principal, action string, ids ...string) {
	rtype, _, _ := strings.Cut(action, ".")
	var first string
	if len(ids) > 0 {
		first = ids[0]
	}
	var changes map[string]any
	if len(ids) > 1 {
		changes = map[string]any{"ids": ids}
	}
	s.audit(ctx, action, rtype, first, changes)
}
