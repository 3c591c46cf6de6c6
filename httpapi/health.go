package httpapi

import (
	"context"
	"net/http"

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
	return out, nil
}

func metricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
