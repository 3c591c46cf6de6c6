package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// FeedJSON is one vulnerability-intelligence source as loaded.
type FeedJSON struct {
	Source      string     `json:"source" enum:"nvd,nvd-cpematch,kev,epss,debian,recog"`
	Version     string     `json:"version" doc:"KEV catalogVersion, EPSS model and score date, newest NVD lastModified, ..." example:"2025.08.25"`
	Records     int        `json:"records" doc:"Records stored" example:"1404"`
	LastSyncAt  *Timestamp `json:"last_sync_at" doc:"Last successful import; null before the first"`
	LastError   string     `json:"last_error,omitempty" doc:"Why the last import or sync failed (the data before it is kept)"`
	LastErrorAt *Timestamp `json:"last_error_at,omitempty"`
}

func feedJSON(f *vigil.FeedStatus) FeedJSON {
	return FeedJSON{Source: f.Source, Version: f.Version, Records: f.Records, LastSyncAt: tsp(f.LastSyncAt), LastError: f.LastError,
		LastErrorAt: tsp(f.LastErrorAt)}
}

func (s *Server) feedStatuses(ctx context.Context) ([]FeedJSON, error) {
	if s.Feeds == nil {
		return []FeedJSON{}, nil
	}
	sts, err := s.Feeds.FeedStatuses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]FeedJSON, len(sts))
	for i, st := range sts {
		out[i] = feedJSON(st)
	}
	return out, nil
}

func (s *Server) handleFeedList(ctx context.Context, _ *struct{}) (*DataOutput[[]FeedJSON], error) {
	out, err := s.feedStatuses(ctx)
	if err != nil {
		return nil, err
	}
	return dataOutput(out), nil
}
