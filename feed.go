package vigil

import (
	"context"
	"time"
)

// Feed sources: the vulnerability intelligence Vigil imports.
const (
	FeedNVD      = "nvd"          // NVD CVE API 2.0 records
	FeedCPEMatch = "nvd-cpematch" // NVD CPE Match API 2.0 records
	FeedKEV      = "kev"          // CISA Known Exploited Vulnerabilities
	FeedEPSS     = "epss"         // FIRST Exploit Prediction Scoring System
	FeedDebian   = "debian"       // Debian Security Tracker
	FeedRecog    = "recog"        // Rapid7 Recog fingerprints
)

// FeedSources lists every source in import order: NVD before what annotates
// its records.
var FeedSources = []string{FeedNVD, FeedCPEMatch, FeedKEV, FeedEPSS, FeedDebian, FeedRecog}

// FeedStatus is what is loaded of one source.
type FeedStatus struct {
	Source     string
	Version    string // KEV catalogVersion, EPSS model and score date, NVD newest lastModified, ...
	Records    int
	LastSyncAt *time.Time // the last successful import
	// Cursor is where an incremental sync resumes: for NVD the newest
	// lastModified seen, for HTTP files their Last-Modified header.
	Cursor      string
	LastError   string
	LastErrorAt *time.Time
	UpdatedAt   time.Time
}

// FeedService reads feed status.
type FeedService interface {
	FeedStatuses(ctx context.Context) ([]*FeedStatus, error)
}
