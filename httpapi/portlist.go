package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// PortListJSON is a port list on the wire.
type PortListJSON struct {
	ID        string            `json:"id" format:"uuid"`
	Name      string            `json:"name" example:"Web services"`
	Comment   string            `json:"comment"`
	PortRange string            `json:"port_range" doc:"Compact form of the ranges" example:"T:1-1024,8080,U:53"`
	PortCount int               `json:"port_count" example:"1026"`
	TCPCount  int               `json:"tcp_count" example:"1025"`
	UDPCount  int               `json:"udp_count" example:"1"`
	Ranges    []vigil.PortRange `json:"ranges"`
	AppType   *string           `json:"app_type" enum:"pci,vrms,penetration" doc:"Product the list is for; null for every product"`
	Active    bool              `json:"active"`
	Builtin   bool              `json:"builtin" doc:"Built-in lists are read-only and refreshed by sync"`
	CreatedAt Timestamp         `json:"created_at"`
	UpdatedAt Timestamp         `json:"updated_at"`
}

func portListJSON(l *vigil.PortList) PortListJSON {
	return PortListJSON{ID: l.ID, Name: l.Name, Comment: l.Comment, PortRange: l.PortRangeString(),
		PortCount: l.TCPCount + l.UDPCount, TCPCount: l.TCPCount, UDPCount: l.UDPCount, Ranges: l.Ranges,
		AppType: orNil(l.AppType), Active: l.Active, Builtin: l.Builtin(), CreatedAt: ts(l.CreatedAt), UpdatedAt: ts(l.UpdatedAt)}
}

// PortListOutput is one port list under data.
type PortListOutput struct {
	Body struct {
		Data PortListJSON `json:"data"`
	}
}

func portListOutput(l *vigil.PortList) *PortListOutput {
	out := &PortListOutput{}
	out.Body.Data = portListJSON(l)
	return out
}

// PortRangeInput is one range in a request; protocol defaults to tcp.
type PortRangeInput struct {
	Start    int    `json:"start" minimum:"1" maximum:"65535" example:"8000"`
	End      int    `json:"end" minimum:"1" maximum:"65535" example:"8100"`
	Protocol string `json:"protocol,omitempty" enum:"tcp,udp" example:"tcp"`
}

func (r PortRangeInput) domain() vigil.PortRange {
	return vigil.PortRange{Start: r.Start, End: r.End, Protocol: vigil.Protocol(r.Protocol)}
}

// PortListFields are the writable fields of a port list. port_range and
// ranges are two spellings; either replaces all ranges.
type PortListFields struct {
	Name      *string           `json:"name,omitempty" maxLength:"255" example:"Web and mail"`
	Comment   *string           `json:"comment,omitempty" maxLength:"4000"`
	PortRange *string           `json:"port_range,omitempty" maxLength:"65536" doc:"Ports and ranges, T: and U: prefixes select the protocol" example:"T:80,443,8000-8100,U:53"`
	Ranges    *[]PortRangeInput `json:"ranges,omitempty" maxItems:"10000"`
}

func (f *PortListFields) input() vigil.PortListInput {
	in := vigil.PortListInput{Name: f.Name, Comment: f.Comment, PortRange: f.PortRange}
	if f.Ranges != nil {
		rs := make([]vigil.PortRange, len(*f.Ranges))
		for i, r := range *f.Ranges {
			rs[i] = r.domain()
		}
		in.Ranges = &rs
	}
	return in
}

func (s *Server) listPortLists(ctx context.Context, in *struct{ ListParams }, activeOnly bool) (*ListOutput[PortListJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.PortListList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if activeOnly {
		opts.Filters = append(opts.Filters, vigil.Filter{Column: "active", Kind: vigil.FilterBool, Value: "true"})
	}
	ls, total, err := s.PortLists.FindPortLists(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(ls, portListJSON, opts, total), nil
}

func (s *Server) handlePortListList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[PortListJSON], error) {
	return s.listPortLists(ctx, in, false)
}

func (s *Server) handlePortListActivated(ctx context.Context, in *struct{ ListParams }) (*ListOutput[PortListJSON], error) {
	return s.listPortLists(ctx, in, true)
}

func (s *Server) handlePortListShow(ctx context.Context, in *IDPath) (*PortListOutput, error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	l, err := s.PortLists.FindPortListByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return portListOutput(l), nil
}

// PortListCreateInput is POST /v2/port_lists.
type PortListCreateInput struct {
	Body struct {
		PortList PortListFields `json:"port_list"`
	}
}

func (s *Server) handlePortListCreate(ctx context.Context, in *PortListCreateInput) (*PortListOutput, error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	l, err := s.PortLists.CreatePortList(ctx, p.OrganizationID, in.Body.PortList.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "port_list.create", l.ID)
	return portListOutput(l), nil
}

// PortListUpdateInput is PUT /v2/port_lists/{id}.
type PortListUpdateInput struct {
	IDPath
	Body struct {
		PortList PortListFields `json:"port_list"`
	}
}

func (s *Server) handlePortListUpdate(ctx context.Context, in *PortListUpdateInput) (*PortListOutput, error) {
	return s.changePortList(ctx, "port_list.update", in.ID, vigil.ActionWrite, func(orgID string) (*vigil.PortList, error) {
		return s.PortLists.UpdatePortList(ctx, orgID, in.ID, in.Body.PortList.input())
	})
}

// changePortList runs one change to a list for a caller allowed to do a.
func (s *Server) changePortList(ctx context.Context, action, id string, a vigil.Action, change func(orgID string) (*vigil.PortList, error)) (*PortListOutput, error) {
	p, err := principal(ctx, a)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	l, err := change(p.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, action, id)
	return portListOutput(l), nil
}

func (s *Server) handlePortListDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	return s.deleteRecords(ctx, "port_list.delete", "", []string{in.ID}, nil, s.PortLists.DeletePortLists)
}

func (s *Server) handlePortListBulkDelete(ctx context.Context, in *BulkDeleteInput) (*DeleteOutput, error) {
	ids, err := in.ids()
	return s.deleteRecords(ctx, "port_list.delete", "", ids, err, s.PortLists.DeletePortLists)
}

// PortRangesOutput lists a port list's ranges.
type PortRangesOutput struct {
	Body struct {
		Data []vigil.PortRange `json:"data"`
	}
}

func (s *Server) handlePortRangeList(ctx context.Context, in *IDPath) (*PortRangesOutput, error) {
	out, err := s.handlePortListShow(ctx, in)
	if err != nil {
		return nil, err
	}
	r := &PortRangesOutput{}
	r.Body.Data = out.Body.Data.Ranges
	return r, nil
}

// PortRangeAddInput is POST /v2/port_lists/{id}/ranges.
type PortRangeAddInput struct {
	IDPath
	Body struct {
		PortRange PortRangeInput `json:"port_range"`
	}
}

func (s *Server) handlePortRangeAdd(ctx context.Context, in *PortRangeAddInput) (*PortListOutput, error) {
	return s.changePortList(ctx, "port_list.add_range", in.ID, vigil.ActionWrite, func(orgID string) (*vigil.PortList, error) {
		r := in.Body.PortRange.domain()
		if r.Protocol == "" {
			r.Protocol = vigil.TCP
		}
		return s.PortLists.AddPortRange(ctx, orgID, in.ID, r)
	})
}

// PortRangeDeleteInput is DELETE /v2/port_lists/{id}/ranges/{range_id}.
type PortRangeDeleteInput struct {
	IDPath
	RangeID string `path:"range_id" doc:"Range id (UUID)"`
}

func (s *Server) handlePortRangeDelete(ctx context.Context, in *PortRangeDeleteInput) (*PortListOutput, error) {
	return s.changePortList(ctx, "port_list.delete_range", in.ID, vigil.ActionWrite, func(orgID string) (*vigil.PortList, error) {
		return s.PortLists.DeletePortRange(ctx, orgID, in.ID, in.RangeID)
	})
}

func (s *Server) handlePortListActivate(ctx context.Context, in *IDPath) (*PortListOutput, error) {
	return s.changePortList(ctx, "port_list.activate", in.ID, vigil.ActionWrite, func(orgID string) (*vigil.PortList, error) {
		return s.PortLists.SetPortListActive(ctx, orgID, in.ID, true)
	})
}

func (s *Server) handlePortListDeactivate(ctx context.Context, in *IDPath) (*PortListOutput, error) {
	return s.changePortList(ctx, "port_list.deactivate", in.ID, vigil.ActionWrite, func(orgID string) (*vigil.PortList, error) {
		return s.PortLists.SetPortListActive(ctx, orgID, in.ID, false)
	})
}

// AppTypeFields sets a port list's product.
type AppTypeFields struct {
	AppType *string `json:"app_type" nullable:"true" enum:"pci,vrms,penetration," doc:"Product code, or null / \"\" for every product"`
}

// PortListAppTypeInput is PUT /v2/port_lists/{id}/app_type.
type PortListAppTypeInput struct {
	IDPath
	Body struct {
		PortList AppTypeFields `json:"port_list"`
	}
}

func (s *Server) handlePortListAppType(ctx context.Context, in *PortListAppTypeInput) (*PortListOutput, error) {
	return s.changePortList(ctx, "port_list.app_type", in.ID, vigil.ActionManage, func(orgID string) (*vigil.PortList, error) {
		appType := ""
		if in.Body.PortList.AppType != nil {
			appType = *in.Body.PortList.AppType
		}
		return s.PortLists.SetPortListAppType(ctx, orgID, in.ID, appType)
	})
}

// PortListSyncJSON says what sync changed.
type PortListSyncJSON struct {
	Created   []string `json:"created" doc:"Built-in lists that were missing and were created"`
	Updated   []string `json:"updated" doc:"Built-in lists whose definition changed"`
	Unchanged []string `json:"unchanged"`
}

// PortListSyncOutput is the answer of sync.
type PortListSyncOutput struct {
	Body struct {
		Data PortListSyncJSON `json:"data"`
	}
}

func (s *Server) handlePortListSync(ctx context.Context, _ *struct{}) (*PortListSyncOutput, error) {
	p, err := principal(ctx, vigil.ActionManage)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	res, err := s.PortLists.SyncBuiltinPortLists(ctx, p.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "port_list.sync")
	out := &PortListSyncOutput{}
	out.Body.Data.Created, out.Body.Data.Updated, out.Body.Data.Unchanged = res.Created, res.Updated, res.Unchanged
	return out, nil
}
