package vulnmatch

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Confidence (0-100) of a match by how the version was learned and judged.
// Findings below DisplayThreshold are kept but shown only on request: they
// are the matches a distribution's backported fix may have made wrong.
const (
	// ConfidencePackage: the installed package, read over an authenticated
	// session and judged by the distribution's security tracker.
	ConfidencePackage = 97
	// ConfidenceDistroBanner: a banner that names the distribution
	// revision (OpenSSH's "Debian-2+deb12u10"), judged by the tracker.
	ConfidenceDistroBanner = 80
	// ConfidenceBanner: an upstream version banner judged by NVD's ranges.
	ConfidenceBanner = 70
	// ConfidenceDistroBannerNVD: a distribution build the tracker has no
	// verdict for, judged by NVD's upstream ranges, which miss backports.
	ConfidenceDistroBannerNVD = 30
	// DisplayThreshold is the default minimum confidence of what lists show.
	DisplayThreshold = 50
)

// Data is what the matcher reads: the imported feeds.
type Data interface {
	// ProductCVEs returns the CVEs whose vulnerable criteria name any of
	// the vendor:product pairs, with KEV and EPSS filled in.
	ProductCVEs(ctx context.Context, vendorProducts []string) ([]*CVE, error)
	// TrackerEntries returns the tracker's rows of the source packages in
	// release, by source package.
	TrackerEntries(ctx context.Context, release string, sources []string) (map[string][]*TrackerEntry, error)
	// CVEs returns the records NVD has of ids, with KEV and EPSS.
	CVEs(ctx context.Context, ids []string) (map[string]*CVE, error)
}

// Match is one CVE that applies to what was found.
type Match struct {
	CVE        *CVE // the NVD record; only ID (and the tracker's description) when NVD has none
	Product    string
	Package    string // Debian source package, for tracker matches
	Installed  string // the version judged
	Verdict    Verdict
	Confidence int
	Basis      string // what the verdict rests on, in words
}

// DebianReleases maps the "debNN" of a Debian security revision to the
// release's code name.
var DebianReleases = map[string]string{"9": "stretch", "10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky"}

// DistroBuild is what a banner says of the distribution build it came from.
type DistroBuild struct {
	Distro   string // debian, ubuntu
	Revision string // the package revision: "2+deb12u10"
	Release  string // code name when the revision names it: "bookworm"
}

var (
	distroRevision = regexp.MustCompile(`(?i)\b(Debian|Ubuntu)[-_ ](\d[\w.+~]*)`)
	debRelease     = regexp.MustCompile(`\+deb(\d+)u\d+`)
)

// ParseDistroBuild finds a distribution revision in a banner:
// "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10" gives Debian, revision
// "2+deb12u10", release bookworm.
func ParseDistroBuild(banner string) (DistroBuild, bool) {
	m := distroRevision.FindStringSubmatch(banner)
	if m == nil {
		return DistroBuild{}, false
	}
	b := DistroBuild{Distro: strings.ToLower(m[1]), Revision: m[2]}
	if b.Distro == "debian" {
		if r := debRelease.FindStringSubmatch(b.Revision); r != nil {
			b.Release = DebianReleases[r[1]]
		}
	}
	return b, true
}

// ProductByName finds the product a service detection named ("OpenSSH",
// "Exim smtpd", "Apache httpd").
func ProductByName(name string) (Product, bool) {
	n := strings.ToLower(name)
	for _, p := range Products {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
		for _, a := range p.Aliases {
			if strings.Contains(n, a) {
				return p, true
			}
		}
	}
	return Product{}, false
}

// MatchBanner matches a version learned from the network. A banner that
// carries a Debian revision with its release is judged by the tracker; a CVE
// the tracker does not list for the package, or a banner of a distribution
// without tracker data, is judged by NVD at the lowest confidence, because
// the distribution may have backported the fix. A plain upstream banner is
// judged by NVD. CVEs NVD has not assessed yet are not reported.
func MatchBanner(ctx context.Context, d Data, productName, version, banner string) ([]Match, error) {
	p, ok := ProductByName(productName)
	if !ok || version == "" {
		return nil, nil
	}
	cves, err := d.ProductCVEs(ctx, p.CPEs)
	if err != nil {
		return nil, err
	}
	build, distro := ParseDistroBuild(banner)
	judged := map[string]bool{}
	var out []Match
	if distro && build.Distro == "debian" && build.Release != "" && p.DebianSource != "" {
		entries, err := d.TrackerEntries(ctx, build.Release, []string{p.DebianSource})
		if err != nil {
			return nil, err
		}
		installed := version + "-" + build.Revision
		ms, err := trackerMatches(p.DebianSource, entries[p.DebianSource], installed, ConfidenceDistroBanner, "banner "+banner)
		if err != nil {
			return nil, err
		}
		if err := fillCVEs(ctx, d, ms); err != nil {
			return nil, err
		}
		for _, e := range entries[p.DebianSource] {
			judged[e.CVE] = true
		}
		for i := range ms {
			ms[i].Product = p.Name
		}
		out = append(out, ms...)
	}
	conf, basis := ConfidenceBanner, "upstream version "+version+" in NVD's affected ranges"
	if distro {
		conf = ConfidenceDistroBannerNVD
		basis = fmt.Sprintf("upstream version %s in NVD's affected ranges; the %s build (%s) may carry a backported fix the tracker data does not show",
			version, build.Distro, build.Revision)
	}
	for _, c := range cves {
		if judged[c.ID] {
			continue
		}
		v := NVDVerdictForProduct(c.Configurations, p, version)
		if v.State != Vulnerable {
			continue
		}
		out = append(out, Match{CVE: c, Product: p.Name, Installed: version, Verdict: v, Confidence: conf, Basis: basis})
	}
	sortMatches(out)
	return out, nil
}

// Package is an installed Debian source package.
type Package struct {
	Source  string
	Version string
}

// MatchPackages judges installed source packages by the tracker's data for
// release: what an authenticated scan reports.
func MatchPackages(ctx context.Context, d Data, release string, pkgs []Package) ([]Match, error) {
	sources := make([]string, 0, len(pkgs))
	for _, p := range pkgs {
		sources = append(sources, p.Source)
	}
	entries, err := d.TrackerEntries(ctx, release, sources)
	if err != nil {
		return nil, err
	}
	var out []Match
	for _, p := range pkgs {
		ms, err := trackerMatches(p.Source, entries[p.Source], p.Version, ConfidencePackage, "installed package "+p.Source+" "+p.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	// The CVE records of every package's matches in one query, not one per package.
	if err := fillCVEs(ctx, d, out); err != nil {
		return nil, err
	}
	sortMatches(out)
	return out, nil
}

// trackerMatches judges installed against a package's tracker rows; the
// matches carry the tracker's CVE id and description until fillCVEs.
func trackerMatches(source string, entries []*TrackerEntry, installed string, conf int, basis string) ([]Match, error) {
	// A banner has no epoch; the package's own versions carry it.
	for _, e := range entries {
		if e.Status == "resolved" && e.FixedVersion != "0" {
			installed = withEpochOf(installed, e.FixedVersion)
			break
		}
	}
	var out []Match
	for _, e := range entries {
		v, err := DebianVerdict(e.Release, e.TrackerRelease, installed)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", source, e.CVE, err)
		}
		if v.State != Vulnerable {
			continue
		}
		out = append(out, Match{CVE: &CVE{ID: e.CVE, Description: e.Description}, Package: source, Installed: installed,
			Verdict: v, Confidence: conf, Basis: basis + ", Debian security tracker (" + e.Release + ")"})
	}
	return out, nil
}

// fillCVEs replaces the tracker's bare CVEs of ms by NVD's records (score,
// KEV, EPSS) where the data has them.
func fillCVEs(ctx context.Context, d Data, ms []Match) error {
	if len(ms) == 0 {
		return nil
	}
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.CVE.ID)
	}
	recs, err := d.CVEs(ctx, ids)
	if err != nil {
		return err
	}
	for i := range ms {
		if c := recs[ms[i].CVE.ID]; c != nil {
			if c.Description == "" {
				c.Description = ms[i].CVE.Description
			}
			ms[i].CVE = c
		}
	}
	return nil
}

// withEpochOf gives v (which has none) the epoch of ref.
func withEpochOf(v, ref string) string {
	if strings.Contains(v, ":") {
		return v
	}
	if e, _, ok := strings.Cut(ref, ":"); ok {
		return e + ":" + v
	}
	return v
}

func sortMatches(ms []Match) {
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].CVE.Score != ms[j].CVE.Score {
			return ms[i].CVE.Score > ms[j].CVE.Score
		}
		return ms[i].CVE.ID < ms[j].CVE.ID
	})
}
