package feeds

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan/fingerprint"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// Importer loads feed files into a Store.
type Importer struct {
	Store    Store
	Progress Progress
	Now      func() time.Time
	// DebianReleases, when not empty, keeps only these tracker releases.
	DebianReleases map[string]bool
}

// Result is what one source's import loaded.
type Result struct {
	Source  string
	Files   int
	Records int // records in the files
	Total   int // the source's rows after the import
	Version string
}

// DetectSource names the feed a file belongs to from its name and first
// bytes, or "" for a file that is none (a JSON schema, a README).
func DetectSource(name string, head []byte) string {
	lower := strings.ToLower(name)
	switch {
	case strings.HasSuffix(lower, ".xml"):
		if bytes.Contains(head, []byte("<fingerprints")) {
			return vigil.FeedRecog
		}
	case strings.HasSuffix(lower, ".csv"), strings.HasSuffix(lower, ".csv.gz"):
		if strings.Contains(lower, "epss") || bytes.HasPrefix(head, []byte("#model_version")) || bytes.HasPrefix(head, []byte("cve,epss")) ||
			bytes.HasPrefix(head, []byte{0x1f, 0x8b}) {
			return vigil.FeedEPSS
		}
	case strings.HasSuffix(lower, ".json"):
		switch {
		case bytes.Contains(head, []byte(`"$schema"`)):
			return ""
		case bytes.Contains(head, []byte(`"catalogVersion"`)):
			return vigil.FeedKEV
		case bytes.Contains(head, []byte(`"matchString`)):
			return vigil.FeedCPEMatch
		case bytes.Contains(head, []byte(`"NVD_CVE"`)), bytes.Contains(head, []byte(`"sourceIdentifier"`)),
			bytes.Contains(head, []byte(`"vulnStatus"`)):
			return vigil.FeedNVD
		case bytes.Contains(head, []byte(`"releases"`)):
			return vigil.FeedDebian
		}
	}
	return ""
}

// ImportDir loads every feed file under dir (recursively), one transaction
// per source. A source whose files fail to parse or store is left as it was
// and its error recorded; the other sources still load. The error lists
// the failed sources.
func (im *Importer) ImportDir(ctx context.Context, dir string) ([]Result, error) {
	bySource := map[string][]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		head, err := readHead(path, 4096)
		if err != nil {
			return err
		}
		if src := DetectSource(d.Name(), head); src != "" {
			bySource[src] = append(bySource[src], path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(bySource) == 0 {
		return nil, fmt.Errorf("%s: no feed files (NVD JSON, CPE match JSON, KEV JSON, EPSS CSV, Debian tracker JSON, Recog XML)", dir)
	}
	var results []Result
	var failed []string
	for _, src := range vigil.FeedSources {
		files := bySource[src]
		if len(files) == 0 {
			continue
		}
		sort.Strings(files)
		res, err := im.ImportFiles(ctx, src, files)
		if err != nil {
			failed = append(failed, err.Error())
			continue
		}
		results = append(results, *res)
	}
	if len(failed) > 0 {
		return results, fmt.Errorf("%s", strings.Join(failed, "; "))
	}
	return results, nil
}

func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	k, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return nil, err
	}
	return buf[:k], nil
}

// ImportFiles loads files of one source in one transaction. A failure
// leaves the source as it was and is recorded in its status.
func (im *Importer) ImportFiles(ctx context.Context, source string, files []string) (*Result, error) {
	return im.importSource(ctx, source, files, "", im.fillFrom(ctx, source, files))
}

// fillFrom imports files into a source's transaction.
func (im *Importer) fillFrom(ctx context.Context, source string, files []string) func(Tx, *Result) error {
	return func(tx Tx, res *Result) error {
		for i, path := range files {
			if err := im.importFile(ctx, tx, source, path, res); err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(path), err)
			}
			im.Progress.report(source, "files", int64(i+1), int64(len(files)))
		}
		return nil
	}
}

// importSource runs fill in the source's transaction and sets its status;
// cursor, when not empty, becomes the status cursor.
func (im *Importer) importSource(ctx context.Context, source string, files []string, cursor string,
	fill func(Tx, *Result) error) (*Result, error) {
	now := im.now()
	res := &Result{Source: source, Files: len(files)}
	err := im.Store.ImportFeed(ctx, source, func(tx Tx) error {
		if replaces(source) {
			if err := tx.Clear(ctx, source); err != nil {
				return err
			}
		}
		if err := fill(tx, res); err != nil {
			return err
		}
		total, err := tx.Count(ctx, source)
		if err != nil {
			return err
		}
		res.Total = total
		if !replaces(source) {
			// An incremental import adds to what is there: the version is
			// the newest record, old or new.
			old, err := im.status(ctx, source)
			if err != nil {
				return err
			}
			if old != nil && old.Version > res.Version {
				res.Version = old.Version
			}
		}
		if cursor == "" {
			cursor = res.Version
		}
		return tx.SetStatus(ctx, &vigil.FeedStatus{Source: source, Version: res.Version, Records: total, LastSyncAt: &now,
			Cursor: cursor, UpdatedAt: now})
	})
	if err != nil {
		err = fmt.Errorf("%s: %w", source, err)
		if rerr := im.Store.RecordFeedError(context.WithoutCancel(ctx), source, err.Error(), im.now()); rerr != nil {
			err = fmt.Errorf("%w (and recording it: %v)", err, rerr)
		}
		return nil, err
	}
	return res, nil
}

// replaces tells the sources whose import is a full snapshot (KEV, EPSS,
// tracker, Recog) from those that add to what is there (NVD records and
// CPE matches, which syncs fetch by last modification).
func replaces(source string) bool {
	return source != vigil.FeedNVD && source != vigil.FeedCPEMatch
}

// status is the source's status, nil before its first import.
func (im *Importer) status(ctx context.Context, source string) (*vigil.FeedStatus, error) {
	sts, err := im.Store.FeedStatuses(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		if st.Source == source {
			return st, nil
		}
	}
	return nil, nil
}

func (im *Importer) now() time.Time {
	if im.Now != nil {
		return im.Now().UTC()
	}
	return time.Now().UTC()
}

func (im *Importer) importFile(ctx context.Context, tx Tx, source, path string, res *Result) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return im.importReader(ctx, tx, source, filepath.Base(path), f, res)
}

// importReader parses one document of source and writes it to tx.
func (im *Importer) importReader(ctx context.Context, tx Tx, source, name string, r io.Reader, res *Result) error {
	switch source {
	case vigil.FeedEPSS:
		ef, err := ParseEPSS(r)
		if err != nil {
			return err
		}
		for _, b := range chunk(ef.Scores, batchSize) {
			if err := tx.PutEPSS(ctx, b); err != nil {
				return err
			}
		}
		res.Records += len(ef.Scores)
		res.Version = ef.Version()
		return nil
	case vigil.FeedDebian:
		n, err := ParseDebianTracker(r, im.DebianReleases, func(es []*vulnmatch.TrackerEntry) error {
			return tx.PutTracker(ctx, es)
		})
		res.Records += n
		res.Version = name
		return err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch source {
	case vigil.FeedNVD:
		page, err := ParseNVD(data)
		if err != nil {
			return err
		}
		for _, b := range chunk(page.Records, batchSize) {
			if err := tx.PutCVEs(ctx, b); err != nil {
				return err
			}
		}
		res.Records += len(page.Records)
		for _, c := range page.Records {
			if v := c.LastModified.Format(time.RFC3339Nano); v > res.Version {
				res.Version = v
			}
		}
	case vigil.FeedCPEMatch:
		ms, err := ParseCPEMatch(data)
		if err != nil {
			return err
		}
		if err := tx.PutCPEMatches(ctx, ms); err != nil {
			return err
		}
		res.Records += len(ms)
		for _, m := range ms {
			if v := m.LastModified.Format(time.RFC3339Nano); v > res.Version {
				res.Version = v
			}
		}
	case vigil.FeedKEV:
		c, err := ParseKEV(data)
		if err != nil {
			return err
		}
		for _, b := range chunk(c.Entries, batchSize) {
			if err := tx.PutKEV(ctx, b); err != nil {
				return err
			}
		}
		res.Records += len(c.Entries)
		res.Version = c.Version
	case vigil.FeedRecog:
		db, err := fingerprint.ParseRecog(map[string][]byte{name: data})
		if err != nil {
			return err
		}
		if err := tx.PutRecog(ctx, name, data); err != nil {
			return err
		}
		res.Records += db.Count()
		res.Version = fmt.Sprintf("%d fingerprints", res.Records)
	default:
		return fmt.Errorf("unknown feed source %q", source)
	}
	return nil
}

func chunk[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}
