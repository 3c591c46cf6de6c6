package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilscan/vigil"
)

// HealthOutput is the body of /healthz and /readyz.
type HealthOutput struct {
	Body struct {
		Status  string `json:"status" example:"ok"`
		Version string `json:"version" example:"1.0.0"`
		Detail  string `json:"detail,omitempty"`
		// Feeds is in /readyz only: what vulnerability data is loaded.
		Feeds []FeedJSON `json:"feeds,omitempty" doc:"Vulnerability intelligence loaded (readyz only)"`
	}
}

func (s *Server) handleHealthz(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
	out := &HealthOutput{}
	out.Body.Status, out.Body.Version = "ok", vigil.Version
	return out, nil
}

func (s *Server) handleReadyz(ctx context.Context, _ *struct{}) (*HealthOutput, error) {
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "err", err)
			e := newError(http.StatusServiceUnavailable, "not ready: "+err.Error(), nil)
			e.StatusText = "Service Unavailable"
			return nil, e
		}
	}
	out := &HealthOutput{}
	out.Body.Status, out.Body.Version = "ok", vigil.Version
	// Missing feeds do not make the server unready (scans still find
	// exposures and check results); the detail says what is missing.
	feeds, err := s.feedStatuses(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "feed status", "err", err)
		out.Body.Detail = "feed status unavailable"
		return out, nil
	}
	out.Body.Feeds = feeds
	loaded := map[string]bool{}
	for _, f := range feeds {
		loaded[f.Source] = f.LastSyncAt != nil
	}
	var missing []string
	for _, src := range []string{vigil.FeedNVD, vigil.FeedKEV, vigil.FeedEPSS, vigil.FeedDebian} {
		if !loaded[src] {
			missing = append(missing, src)
		}
	}
	if len(missing) > 0 {
		out.Body.Detail = "feeds not loaded: " + strings.Join(missing, ", ") + " (run vigil feeds sync, or vigil feeds import DIR); CVE matching is limited until then"
	}
	return out, nil
}

func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
