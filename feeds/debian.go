package feeds

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// ParseDebianTracker streams the Debian Security Tracker JSON
// ({source: {CVE: {description, debianbug, releases: {release: {...}}}}}),
// handing the entries to put a source package at a time, so the full dump
// (tens of MB) is never held at once. releases, when not empty, keeps only
// those releases.
func ParseDebianTracker(r io.Reader, releases map[string]bool, put func([]*vulnmatch.TrackerEntry) error) (n int, err error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return 0, fmt.Errorf("debian tracker: %w", err)
	}
	type cveEntry struct {
		Description string                              `json:"description"`
		DebianBug   int                                 `json:"debianbug"`
		Releases    map[string]vulnmatch.TrackerRelease `json:"releases"`
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return n, fmt.Errorf("debian tracker: %w", err)
		}
		source, _ := tok.(string)
		var cves map[string]cveEntry
		if err := dec.Decode(&cves); err != nil {
			return n, fmt.Errorf("debian tracker: package %s: %w", source, err)
		}
		var batch []*vulnmatch.TrackerEntry
		for id, c := range cves {
			for rel, tr := range c.Releases {
				if len(releases) > 0 && !releases[rel] {
					continue
				}
				switch tr.Status {
				case "resolved", "open", "undetermined":
				default:
					return n, fmt.Errorf("debian tracker: %s %s %s: status %q", source, id, rel, tr.Status)
				}
				if tr.Status == "resolved" && tr.FixedVersion != "0" {
					if _, err := vulnmatch.ParseDebVersion(tr.FixedVersion); err != nil {
						return n, fmt.Errorf("debian tracker: %s %s %s: fixed_version: %w", source, id, rel, err)
					}
				}
				batch = append(batch, &vulnmatch.TrackerEntry{Source: source, CVE: id, Release: rel, Description: c.Description,
					DebianBug: c.DebianBug, TrackerRelease: tr})
			}
		}
		if len(batch) > 0 {
			if err := put(batch); err != nil {
				return n, err
			}
			n += len(batch)
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return n, fmt.Errorf("debian tracker: %w", err)
	}
	return n, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("expected %q, got %v", d, tok)
	}
	return nil
}
