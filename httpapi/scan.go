package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// ScanProfileJSON is a scan profile ("config") on the wire.
type ScanProfileJSON struct {
	ID               string  `json:"id" format:"uuid"`
	Name             string  `json:"name" example:"Full and fast"`
	Comment          string  `json:"comment"`
	Builtin          bool    `json:"builtin"`
	GVMID            *string `json:"gvm_id" doc:"The stock GVM config id this profile stands for; accepted as config_id"`
	PortListID       *string `json:"port_list_id" format:"uuid" doc:"The profile's own port list; null: the target's"`
	ServiceDetection bool    `json:"service_detection"`
	Checks           string  `json:"checks" enum:"none,safe,pci"`
	Fixed            bool    `json:"fixed" doc:"Scans with this profile always use its port list and checks"`
	Active           bool    `json:"active"`
	AppType          *string `json:"app_type" enum:"pci,vrms,penetration"`
}

func scanProfileJSON(p *vigil.ScanProfile) ScanProfileJSON {
	return ScanProfileJSON{ID: p.ID, Name: p.Name, Comment: p.Comment, Builtin: p.BuiltinKey != "", GVMID: orNil(p.GVMID),
		PortListID: orNil(p.PortListID), ServiceDetection: p.ServiceDetection, Checks: string(p.Checks), Fixed: p.Fixed,
		Active: p.Active, AppType: orNil(p.AppType)}
}

// RefJSON names a related record.
type RefJSON struct {
	ID   string `json:"id" format:"uuid"`
	Name string `json:"name"`
}

// SeverityCountsJSON counts findings by severity class.
type SeverityCountsJSON struct {
	High   int `json:"high"`
	Medium int `json:"medium"`
	Low    int `json:"low"`
	Log    int `json:"log"`
}

func countsJSON(c vigil.SeverityCounts) SeverityCountsJSON {
	return SeverityCountsJSON{High: c.High, Medium: c.Medium, Low: c.Low, Log: c.Log}
}

// ScanJSON is a scan on the wire.
type ScanJSON struct {
	ID         string             `json:"id" format:"uuid"`
	Name       string             `json:"name" example:"Weekly external"`
	Comment    string             `json:"comment"`
	Status     string             `json:"status" enum:"New,Requested,Queued,Running,Stop Requested,Stopped,Done,Interrupted,Failed"`
	Progress   int                `json:"progress" minimum:"0" maximum:"100"`
	Target     RefJSON            `json:"target"`
	Config     RefJSON            `json:"config" doc:"The scan profile"`
	ScannerID  string             `json:"scanner_id" format:"uuid"`
	ScheduleID *string            `json:"schedule_id" format:"uuid"`
	LastRunID  *string            `json:"last_run_id" format:"uuid"`
	LastScanAt *Timestamp         `json:"last_scan_date" nullable:"true" doc:"When the last run was requested"`
	NextRunAt  *Timestamp         `json:"next_run_at" nullable:"true" doc:"The next run its schedule starts"`
	Severity   SeverityCountsJSON `json:"severity" doc:"Findings of the last finished run by severity class"`
	CreatedAt  Timestamp          `json:"created_at"`
	UpdatedAt  Timestamp          `json:"updated_at"`
}

func scanJSON(sc *vigil.Scan) ScanJSON {
	out := ScanJSON{ID: sc.ID, Name: sc.Name, Comment: sc.Comment, Status: string(sc.Status), Progress: sc.Progress,
		Target: RefJSON{ID: sc.TargetID}, Config: RefJSON{ID: sc.ProfileID}, ScannerID: sc.ScannerID,
		ScheduleID: orNil(sc.ScheduleID), LastRunID: orNil(sc.LastRunID), LastScanAt: tsp(sc.LastRunAt), NextRunAt: tsp(sc.NextRunAt),
		Severity: countsJSON(sc.Counts), CreatedAt: ts(sc.CreatedAt), UpdatedAt: ts(sc.UpdatedAt)}
	if sc.Target != nil {
		out.Target.Name = sc.Target.Name
	}
	if sc.Profile != nil {
		out.Config.Name = sc.Profile.Name
	}
	return out
}

// ScanFields are the writable fields of a scan; on update, fields left out
// keep their values.
type ScanFields struct {
	Name       *string `json:"name,omitempty" maxLength:"255"`
	Comment    *string `json:"comment,omitempty" maxLength:"4000"`
	TargetID   *string `json:"target_id,omitempty" doc:"The target to scan"`
	ConfigID   *string `json:"config_id,omitempty" doc:"Scan profile id (or its stock GVM config id); default: Full and fast"`
	ScannerID  *string `json:"scanner_id,omitempty" doc:"Scanner id; default: the organization's local scanner"`
	ScheduleID *string `json:"schedule_id,omitempty" doc:"The schedule that starts it; \"\" removes it"`
}

func (f *ScanFields) input() vigil.ScanInput {
	return vigil.ScanInput{Name: f.Name, Comment: f.Comment, TargetID: f.TargetID, ProfileID: f.ConfigID,
		ScannerID: f.ScannerID, ScheduleID: f.ScheduleID}
}

// ScanCreateInput is POST /v2/scans.
type ScanCreateInput struct {
	Body struct {
		Scan struct {
			ScanFields
			Name     string `json:"name" minLength:"1" maxLength:"255" example:"Weekly external"`
			TargetID string `json:"target_id" doc:"The target to scan"`
		} `json:"scan"`
	}
}

// ScanUpdateInput is PUT /v2/scans/{id}.
type ScanUpdateInput struct {
	IDPath
	Body struct {
		Scan ScanFields `json:"scan"`
	}
}

// ScanOutput is one scan under data.
type ScanOutput struct {
	Body struct {
		Data ScanJSON `json:"data"`
	}
}

func scanOutput(sc *vigil.Scan) *ScanOutput {
	out := &ScanOutput{}
	out.Body.Data = scanJSON(sc)
	return out
}

// RunJSON is a run ("scan history") on the wire.
type RunJSON struct {
	ID          string             `json:"id" format:"uuid"`
	ScanID      string             `json:"scan_id" format:"uuid"`
	Status      string             `json:"status" enum:"Requested,Queued,Running,Stop Requested,Stopped,Done,Interrupted,Failed"`
	Reason      string             `json:"reason" doc:"Why the run failed, was interrupted or stopped early"`
	Progress    int                `json:"progress" minimum:"0" maximum:"100"`
	HostsTotal  int                `json:"hosts_total"`
	HostsDone   int                `json:"hosts_done"`
	HostsUp     int                `json:"hosts_up"`
	Severity    SeverityCountsJSON `json:"severity"`
	Compliance  *bool              `json:"compliance" doc:"PCI verdict of a finished run; null until then"`
	ScannerID   string             `json:"scanner_id" format:"uuid"`
	RequestedAt Timestamp          `json:"requested_at"`
	StartedAt   *Timestamp         `json:"started_at" nullable:"true"`
	EndedAt     *Timestamp         `json:"ended_at" nullable:"true"`
}

func runJSON(r *vigil.Run) RunJSON {
	return RunJSON{ID: r.ID, ScanID: r.ScanID, Status: string(r.Status), Reason: r.Reason, Progress: r.Progress,
		HostsTotal: r.HostsTotal, HostsDone: r.HostsDone, HostsUp: r.HostsUp, Severity: countsJSON(r.Counts),
		Compliance: r.Compliant, ScannerID: r.ScannerID, RequestedAt: ts(r.RequestedAt), StartedAt: tsp(r.StartedAt),
		EndedAt: tsp(r.EndedAt)}
}

// RunOutput is one run under data.
type RunOutput struct {
	Body struct {
		Data RunJSON `json:"data"`
	}
}

func runOutput(r *vigil.Run) *RunOutput {
	out := &RunOutput{}
	out.Body.Data = runJSON(r)
	return out
}

func (s *Server) handleScanProfileList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ScanProfileJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.ScanProfileList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts.Filters = append(opts.Filters, vigil.Filter{Column: "active", Kind: vigil.FilterBool, Value: "true"})
	ps, total, err := s.Scans.FindScanProfiles(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(ps, scanProfileJSON, opts, total), nil
}

// scanList lists scans with extra fixed filters or a fixed order (the
// running, recent and upcoming views).
func (s *Server) scanList(ctx context.Context, in *ListParams, extra []vigil.Filter, sort []vigil.Sort) (*ListOutput[ScanJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.ScanList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts.Filters = append(opts.Filters, extra...)
	restrict(p, &opts)
	if len(opts.Sort) == 0 && sort != nil {
		opts.Sort = sort
	}
	scans, total, err := s.Scans.FindScans(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(scans, scanJSON, opts, total), nil
}

func (s *Server) handleScanList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ScanJSON], error) {
	return s.scanList(ctx, &in.ListParams, nil, nil)
}

func (s *Server) handleScanShow(ctx context.Context, in *IDPath) (*ScanOutput, error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sc, err := s.Scans.FindScanByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return scanOutput(sc), nil
}

func (s *Server) handleScanCreate(ctx context.Context, in *ScanCreateInput) (*ScanOutput, error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	f := in.Body.Scan.ScanFields
	f.Name, f.TargetID = &in.Body.Scan.Name, &in.Body.Scan.TargetID
	// Scanning a target is more than viewing it.
	if err := s.checkAccess(ctx, p, vigil.ResourceTarget, in.Body.Scan.TargetID, vigil.AccessUpload); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	sc, err := s.Scans.CreateScan(ctx, p.OrganizationID, f.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "scan.create", sc.ID)
	return scanOutput(sc), nil
}

func (s *Server) handleScanUpdate(ctx context.Context, in *ScanUpdateInput) (*ScanOutput, error) {
	p, err := s.onResource(ctx, vigil.ActionWrite, vigil.ResourceScan, in.ID, vigil.AccessEdit)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if in.Body.Scan.TargetID != nil {
		if err := s.checkAccess(ctx, p, vigil.ResourceTarget, *in.Body.Scan.TargetID, vigil.AccessUpload); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	sc, err := s.Scans.UpdateScan(ctx, p.OrganizationID, in.ID, in.Body.Scan.input())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "scan.update", sc.ID)
	return scanOutput(sc), nil
}

func (s *Server) handleScanDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	return s.deleteRecords(ctx, "scan.delete", vigil.ResourceScan, []string{in.ID}, nil, s.Scans.DeleteScans)
}

func (s *Server) handleScanBulkDelete(ctx context.Context, in *BulkDeleteInput) (*DeleteOutput, error) {
	ids, err := in.ids()
	return s.deleteRecords(ctx, "scan.delete", vigil.ResourceScan, ids, err, s.Scans.DeleteScans)
}

func (s *Server) handleScanStart(ctx context.Context, in *IDPath) (*RunOutput, error) {
	p, err := s.onResource(ctx, vigil.ActionWrite, vigil.ResourceScan, in.ID, vigil.AccessUpload)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	r, err := s.Scans.StartScan(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "scan.start", in.ID, r.ID)
	s.scanStarted()
	return runOutput(r), nil
}

func (s *Server) handleScanStop(ctx context.Context, in *IDPath) (*RunOutput, error) {
	p, err := s.onResource(ctx, vigil.ActionWrite, vigil.ResourceScan, in.ID, vigil.AccessUpload)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	r, err := s.Scans.StopScan(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.auditIDs(ctx, p, "scan.stop", in.ID, r.ID)
	return runOutput(r), nil
}

func (s *Server) handleScanRunning(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ScanJSON], error) {
	// Every active status, answered with the (organization_id, status) index.
	extra := []vigil.Filter{{Column: "status", Kind: vigil.FilterIn, Values: vigil.ActiveStatuses}}
	return s.scanList(ctx, &in.ListParams, extra, nil)
}

func (s *Server) handleScanRecent(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ScanJSON], error) {
	extra := []vigil.Filter{{Column: "last_done_at", Kind: vigil.FilterNotNull}}
	return s.scanList(ctx, &in.ListParams, extra, []vigil.Sort{{Column: "last_done_at", Desc: true}})
}

func (s *Server) handleScanUpcoming(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ScanJSON], error) {
	// Scans whose schedule has a run ahead, soonest first.
	extra := []vigil.Filter{{Column: "next_run_at", Kind: vigil.FilterNotNull}}
	return s.scanList(ctx, &in.ListParams, extra, []vigil.Sort{{Column: "next_run_at"}})
}

// RunListInput is GET /v2/scans/{id}/histories.
type RunListInput struct {
	IDPath
	ListParams
}

func (s *Server) handleRunList(ctx context.Context, in *RunListInput) (*ListOutput[RunJSON], error) {
	p, err := s.onResource(ctx, vigil.ActionRead, vigil.ResourceScan, in.ID, vigil.AccessView)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.RunList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	runs, total, err := s.Scans.FindRuns(ctx, p.OrganizationID, in.ID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(runs, runJSON, opts, total), nil
}

// RunPath is /v2/scans/{id}/histories/{history_id}.
type RunPath struct {
	IDPath
	HistoryID string `path:"history_id" doc:"Run id (UUID)"`
}
