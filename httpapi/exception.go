package httpapi

import (
	"context"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
)

// Exceptions (CG §3.6): GVM overrides. A user asks (pending), a manager or
// admin activates or rejects; active ones change the effective severity of
// matching findings everywhere until they expire.

// ExceptionJSON is an exception on the wire.
type ExceptionJSON struct {
	ID               string     `json:"id" format:"uuid"`
	Text             string     `json:"text" example:"Backported fix: not vulnerable"`
	NVT              string     `json:"nvt" doc:"Check id (GVM NVT OID) or CVE id it applies to" example:"1.3.6.1.4.1.25623.1.0.815255"`
	Hosts            string     `json:"hosts" doc:"Comma-separated addresses or CIDRs; empty: every host" example:"192.0.2.10"`
	Port             *int       `json:"port" nullable:"true" doc:"Port it applies to; null: every port (0: the host itself)"`
	ScanID           *string    `json:"scan" nullable:"true" format:"uuid" doc:"Only inside this scan; null: every scan"`
	NewSeverity      float64    `json:"new_severity" doc:"Severity matching findings get; -1 marks them false positives" example:"-1"`
	NewSeverityClass string     `json:"new_severity_class" enum:"high,medium,low,log,false_positive"`
	FalsePositive    bool       `json:"false_positive"`
	Reason           string     `json:"reason" doc:"Why: the justification a reviewer reads (PCI dispute evidence)"`
	Status           string     `json:"status" enum:"pending,active,expired,rejected"`
	Active           bool       `json:"active"`
	EndDate          *Timestamp `json:"end_date" nullable:"true" doc:"An active exception expires then; null: never"`
	OwnerID          *string    `json:"owner_id" nullable:"true" format:"uuid"`
	ReviewerID       *string    `json:"reviewer_id" nullable:"true" format:"uuid" doc:"Who activated or rejected it"`
	ReviewedAt       *Timestamp `json:"reviewed_at" nullable:"true"`
	FindingsCount    int        `json:"findings_count" doc:"Findings it currently overrides"`
	CreatedAt        Timestamp  `json:"created_at"`
	UpdatedAt        Timestamp  `json:"updated_at"`
}

func exceptionJSON(e *vigil.Exception) ExceptionJSON {
	return ExceptionJSON{ID: e.ID, Text: e.Text, NVT: e.NVT, Hosts: e.Hosts, Port: e.Port, ScanID: orNil(e.ScanID),
		NewSeverity: e.NewSeverity, NewSeverityClass: vigil.SeverityClass(e.NewSeverity), FalsePositive: e.NewSeverity == vigil.FalsePositive,
		Reason: e.Reason, Status: string(e.Status), Active: e.Active(), EndDate: tsp(e.EndDate), OwnerID: orNil(e.OwnerID),
		ReviewerID: orNil(e.ReviewerID), ReviewedAt: tsp(e.ReviewedAt), FindingsCount: e.Findings, CreatedAt: ts(e.CreatedAt),
		UpdatedAt: ts(e.UpdatedAt)}
}

// ExceptionFields are the writable fields; on update, fields left out keep
// their values.
type ExceptionFields struct {
	Text        *string  `json:"text,omitempty" maxLength:"1000" example:"My Exception"`
	NVT         *string  `json:"nvt,omitempty" maxLength:"255" example:"1.3.6.1.4.1.25623.1.0.815255"`
	Hosts       *string  `json:"hosts,omitempty" maxLength:"4000" example:"178.151.13.5"`
	Port        *int     `json:"port,omitempty" minimum:"-1" maximum:"65535" doc:"-1 clears it (every port)" example:"8080"`
	Scan        *string  `json:"scan,omitempty" doc:"Scan id; \"\" clears it"`
	Task        *string  `json:"task,omitempty" doc:"Legacy alias of scan"`
	NewSeverity *float64 `json:"new_severity,omitempty" minimum:"-1" maximum:"10" doc:"Default -1 (false positive)" example:"2"`
	Reason      *string  `json:"reason,omitempty" maxLength:"1000"`
	EndDate     *string  `json:"end_date,omitempty" doc:"ISO-8601 time or YYYY-MM-DD (through that day, UTC); \"\" clears it"`
}

func (f *ExceptionFields) input() (vigil.ExceptionInput, error) {
	in := vigil.ExceptionInput{Text: f.Text, NVT: f.NVT, Hosts: f.Hosts, Port: f.Port, ScanID: f.Scan, NewSeverity: f.NewSeverity,
		Reason: f.Reason}
	if in.ScanID == nil {
		in.ScanID = f.Task
	}
	if f.EndDate != nil {
		in.EndDateSet = true
		if *f.EndDate != "" {
			t, err := parseEndDate(*f.EndDate)
			if err != nil {
				return in, vigil.FieldError("exception.end_date", "%v", err)
			}
			in.EndDate = &t
		}
	}
	return in, nil
}

// parseEndDate reads an ISO-8601 time, "YYYY-MM-DD hh:mm:ss" (UTC) or a
// date (the end of that day, UTC).
func parseEndDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05", s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Millisecond), nil
	}
	return time.Time{}, vigil.Errorf(vigil.EINVALID, "must be an ISO-8601 time or YYYY-MM-DD, got %q", s)
}

func (s *Server) handleExceptionList(ctx context.Context, in *struct{ ListParams }) (*ListOutput[ExceptionJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.ExceptionList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	es, total, err := s.Exceptions.FindExceptions(ctx, p.OrganizationID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return listOutput(es, exceptionJSON, opts, total), nil
}

func (s *Server) handleExceptionShow(ctx context.Context, in *IDPath) (*DataOutput[ExceptionJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	e, err := s.Exceptions.FindExceptionByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(exceptionJSON(e)), nil
}

// ExceptionDetailsJSON is an exception with the findings it applies to
// (or, not active, would).
type ExceptionDetailsJSON struct {
	Exception       ExceptionJSON       `json:"exception"`
	Vulnerabilities []VulnerabilityJSON `json:"vulnerabilities"`
}

// ExceptionDetailsOutput pages the findings.
type ExceptionDetailsOutput struct {
	Body struct {
		Data ExceptionDetailsJSON `json:"data"`
		Meta vigil.ListMeta       `json:"meta" doc:"Pages the vulnerabilities"`
	}
}

// ExceptionDetailsInput is GET /v2/exceptions/{id}/details.
type ExceptionDetailsInput struct {
	IDPath
	ListParams
}

func (s *Server) handleExceptionDetails(ctx context.Context, in *ExceptionDetailsInput) (*ExceptionDetailsOutput, error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.FindingList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	e, err := s.Exceptions.FindExceptionByID(ctx, p.OrganizationID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	fs, total, err := s.Exceptions.ExceptionFindings(ctx, p.OrganizationID, in.ID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &ExceptionDetailsOutput{}
	out.Body.Data.Exception = exceptionJSON(e)
	out.Body.Data.Vulnerabilities = make([]VulnerabilityJSON, len(fs))
	for i, f := range fs {
		out.Body.Data.Vulnerabilities[i] = vulnerabilityJSON(f)
	}
	out.Body.Meta = vigil.NewListMeta(opts, total)
	return out, nil
}

// ExceptionCreateInput is POST /v2/exceptions.
type ExceptionCreateInput struct {
	Body struct {
		Exception ExceptionFields `json:"exception"`
	}
}

func (s *Server) handleExceptionCreate(ctx context.Context, in *ExceptionCreateInput) (*DataOutput[ExceptionJSON], error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	input, err := in.Body.Exception.input()
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if input.ScanID != nil {
		if err := s.checkAccess(ctx, p, vigil.ResourceScan, *input.ScanID, vigil.AccessView); err != nil {
			return nil, fail(ctx, s.log, err)
		}
	}
	e, err := s.Exceptions.CreateException(ctx, p.OrganizationID, p.UserID, input)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "exception.create", "exception", e.ID, map[string]any{"exception": in.Body.Exception})
	return dataOutput(exceptionJSON(e)), nil
}

// ExceptionUpdateInput is PUT /v2/exceptions/{id}.
type ExceptionUpdateInput struct {
	IDPath
	Body struct {
		Exception ExceptionFields `json:"exception"`
	}
}

func (s *Server) handleExceptionUpdate(ctx context.Context, in *ExceptionUpdateInput) (*DataOutput[ExceptionJSON], error) {
	p, err := principal(ctx, vigil.ActionWrite)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	input, err := in.Body.Exception.input()
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	// An approver's edit keeps an active exception active; anyone else's
	// change of its scope sends it back to review.
	e, err := s.Exceptions.UpdateException(ctx, p.OrganizationID, in.ID, input, p.Has(vigil.PermApproveExceptions))
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "exception.update", "exception", e.ID, map[string]any{"exception": in.Body.Exception})
	return dataOutput(exceptionJSON(e)), nil
}

func (s *Server) handleExceptionDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	return s.deleteRecords(ctx, "exception.delete", "", []string{in.ID}, nil, s.Exceptions.DeleteExceptions)
}

func (s *Server) handleExceptionBulkDelete(ctx context.Context, in *BulkDeleteInput) (*DeleteOutput, error) {
	ids, err := in.ids()
	return s.deleteRecords(ctx, "exception.delete", "", ids, err, s.Exceptions.DeleteExceptions)
}

// ExceptionReviewBody is the body of activate, reject and reset.
type ExceptionReviewBody struct {
	IDs     []string `json:"ids" maxItems:"1000"`
	EndDate string   `json:"end_date,omitempty" doc:"Activate only: end date for those without one (default: the server's --exception-days from now)"`
}

// ExceptionReviewInput takes ids in the body or the query (ids[]).
type ExceptionReviewInput struct {
	Body  *ExceptionReviewBody `required:"false"`
	query []string
}

// Resolve reads ids from the query string.
func (in *ExceptionReviewInput) Resolve(ctx huma.Context) []error {
	in.query = queryIDs(ctx)
	return nil
}

func (s *Server) reviewExceptions(ctx context.Context, in *ExceptionReviewInput, status vigil.ExceptionStatus) (*DataOutput[[]ExceptionJSON], error) {
	p, err := permit(ctx, vigil.PermApproveExceptions)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ids := in.query
	if in.Body != nil {
		ids = append(ids, in.Body.IDs...)
	}
	if len(ids) == 0 {
		return nil, fail(ctx, s.log, vigil.FieldError("ids", "can't be blank"))
	}
	if len(ids) > 1000 {
		return nil, fail(ctx, s.log, vigil.FieldError("ids", "at most 1000 ids per request"))
	}
	rv := vigil.ExceptionReview{Status: status, ReviewerID: p.UserID}
	if status == vigil.ExceptionActive {
		// Without an end date an approval lasts the default period (90
		// days: an ASV's accepted false positive must be re-submitted).
		if in.Body != nil && in.Body.EndDate != "" {
			t, err := parseEndDate(in.Body.EndDate)
			if err != nil {
				return nil, fail(ctx, s.log, vigil.FieldError("end_date", "%v", err))
			}
			if !t.After(s.now()) {
				return nil, fail(ctx, s.log, vigil.FieldError("end_date", "must lie in the future"))
			}
			rv.EndDate, rv.ReplaceEnd = &t, true
		} else if s.cfg.ExceptionDays > 0 {
			t := s.now().Add(time.Duration(s.cfg.ExceptionDays) * 24 * time.Hour)
			rv.EndDate = &t
		}
	}
	es, err := s.Exceptions.ReviewExceptions(ctx, p.OrganizationID, ids, rv)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	action := map[vigil.ExceptionStatus]string{vigil.ExceptionActive: "exception.activate", vigil.ExceptionRejected: "exception.reject",
		vigil.ExceptionPending: "exception.reset"}[status]
	for _, e := range es {
		s.audit(ctx, action, "exception", e.ID, map[string]any{"status": string(e.Status), "end_date": tsp(e.EndDate),
			"findings_count": e.Findings})
	}
	out := make([]ExceptionJSON, len(es))
	for i, e := range es {
		out[i] = exceptionJSON(e)
	}
	return dataOutput(out), nil
}

func (s *Server) handleExceptionActivate(ctx context.Context, in *ExceptionReviewInput) (*DataOutput[[]ExceptionJSON], error) {
	return s.reviewExceptions(ctx, in, vigil.ExceptionActive)
}

func (s *Server) handleExceptionReject(ctx context.Context, in *ExceptionReviewInput) (*DataOutput[[]ExceptionJSON], error) {
	return s.reviewExceptions(ctx, in, vigil.ExceptionRejected)
}

func (s *Server) handleExceptionReset(ctx context.Context, in *ExceptionReviewInput) (*DataOutput[[]ExceptionJSON], error) {
	return s.reviewExceptions(ctx, in, vigil.ExceptionPending)
}

// ExceptionStatsJSON counts exceptions.
type ExceptionStatsJSON struct {
	Total      int            `json:"total"`
	Pending    int            `json:"pending"`
	Active     int            `json:"active"`
	Expired    int            `json:"expired"`
	Rejected   int            `json:"rejected"`
	Inactive   int            `json:"inactive" doc:"Every exception not active"`
	BySeverity map[string]int `json:"by_severity" doc:"Active exceptions by the class of their new severity"`
	Findings   int            `json:"findings_count" doc:"Findings active exceptions override"`
}

func (s *Server) handleExceptionStatistics(ctx context.Context, _ *struct{}) (*DataOutput[ExceptionStatsJSON], error) {
	p, err := principal(ctx, vigil.ActionRead)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	st, err := s.Exceptions.ExceptionStatistics(ctx, p.OrganizationID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := ExceptionStatsJSON{Pending: st.ByStatus[vigil.ExceptionPending], Active: st.ByStatus[vigil.ExceptionActive],
		Expired: st.ByStatus[vigil.ExceptionExpired], Rejected: st.ByStatus[vigil.ExceptionRejected], BySeverity: st.BySeverity,
		Findings: st.Findings}
	out.Total = out.Pending + out.Active + out.Expired + out.Rejected
	out.Inactive = out.Total - out.Active
	return dataOutput(out), nil
}
