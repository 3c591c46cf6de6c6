// Package feeds imports vulnerability intelligence: NVD CVE and CPE match
// records, CISA KEV, FIRST EPSS, the Debian Security Tracker and Rapid7 Recog
// fingerprints. It parses files and downloads; a Store (the store package)
// keeps what it parses, one transaction per source, so a failed import leaves
// the previous data in place.
package feeds

import (
	"context"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// Tx writes one source's import. Nothing it writes is visible before the
// import commits.
type Tx interface {
	// Clear deletes the source's rows: a full import replaces them.
	Clear(ctx context.Context, source string) error
	PutCVEs(ctx context.Context, cves []*vulnmatch.CVE) error
	PutCPEMatches(ctx context.Context, ms []*CPEMatch) error
	PutKEV(ctx context.Context, es []*KEVEntry) error
	PutEPSS(ctx context.Context, ss []EPSSScore) error
	PutTracker(ctx context.Context, es []*vulnmatch.TrackerEntry) error
	PutRecog(ctx context.Context, name string, content []byte) error
	// Count counts the source's rows after this transaction's writes.
	Count(ctx context.Context, source string) (int, error)
	SetStatus(ctx context.Context, st *vigil.FeedStatus) error
}

// Store keeps imported feeds.
type Store interface {
	// ImportFeed runs fn in one transaction: all of it lands, or none.
	ImportFeed(ctx context.Context, source string, fn func(Tx) error) error
	FeedStatuses(ctx context.Context) ([]*vigil.FeedStatus, error)
	// RecordFeedError notes a failed import or sync (outside any import).
	RecordFeedError(ctx context.Context, source, msg string, at time.Time) error
}

// batchSize is how many records go to the store at once.
const batchSize = 500

// Progress reports an import's or a download's advance; nil reports nothing.
type Progress func(source, what string, done, total int64)

func (p Progress) report(source, what string, done, total int64) {
	if p != nil {
		p(source, what, done, total)
	}
}
