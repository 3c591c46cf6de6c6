package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/vigilscan/vigil/feeds"
	"github.com/vigilscan/vigil/store"
)

// FeedsCmd imports and syncs vulnerability intelligence.
type FeedsCmd struct {
	Import FeedsImportCmd `cmd:"" help:"Load feed files from a directory (NVD JSON records or API pages, CPE match JSON, KEV JSON, EPSS CSV, Debian tracker JSON, Recog XML)."`
	Sync   FeedsSyncCmd   `cmd:"" help:"Download the feeds from their sources (or mirrors) and import them; incremental and resumable."`
	Status FeedsStatusCmd `cmd:"" help:"Show what is loaded of each feed."`
}

// openMigrated opens the database and applies pending migrations, so feed
// commands work on a fresh data directory.
func openMigrated(ctx context.Context, f *DBFlags) (*store.Store, error) {
	st, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// FeedsImportCmd loads files.
type FeedsImportCmd struct {
	DBFlags
	Dir            string   `arg:"" help:"Directory with feed files (searched recursively)." type:"existingdir"`
	DebianReleases []string `help:"Keep only these Debian releases of the tracker (default: all)." placeholder:"RELEASE"`
	NoProgress     bool     `help:"Do not draw progress."`
}

// Run imports the directory.
func (c *FeedsImportCmd) Run(ctx context.Context, g *Globals) error {
	st, err := openMigrated(ctx, &c.DBFlags)
	if err != nil {
		return err
	}
	defer st.Close()
	bar := newProgressBar(g.Stderr, !c.NoProgress)
	im := &feeds.Importer{Store: st, Progress: bar.report, DebianReleases: releaseSet(c.DebianReleases)}
	start := time.Now()
	res, err := im.ImportDir(ctx, c.Dir)
	bar.done()
	printResults(g.Stdout, res, time.Since(start))
	return err
}

func releaseSet(rs []string) map[string]bool {
	if len(rs) == 0 {
		return nil
	}
	m := map[string]bool{}
	for _, r := range rs {
		m[r] = true
	}
	return m
}

// FeedsSyncCmd downloads and imports.
type FeedsSyncCmd struct {
	DBFlags
	Sources        []string      `arg:"" optional:"" help:"Sources to sync (default: all configured): nvd, nvd-cpematch, kev, epss, debian, recog." enum:"nvd,nvd-cpematch,kev,epss,debian,recog"`
	NVDURL         string        `name:"nvd-url" help:"CVE API 2.0 endpoint (or a mirror)." default:"https://services.nvd.nist.gov/rest/json/cves/2.0" env:"VIGIL_FEED_NVD_URL"`
	NVDAPIKey      string        `name:"nvd-api-key" help:"NVD API key (raises the rate limit). Also VIGIL_NVD_API_KEY_FILE." env:"VIGIL_NVD_API_KEY"`
	NVDPageDelay   time.Duration `name:"nvd-page-delay" help:"Pause between NVD pages (NVD asks for 6s without a key)." default:"6s" env:"VIGIL_FEED_NVD_PAGE_DELAY"`
	CPEMatchURL    string        `name:"cpematch-url" help:"CPE Match API 2.0 endpoint; empty skips CPE match records." env:"VIGIL_FEED_CPEMATCH_URL"`
	KEVURL         string        `name:"kev-url" help:"CISA KEV JSON." default:"https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json" env:"VIGIL_FEED_KEV_URL"`
	EPSSURL        string        `name:"epss-url" help:"FIRST EPSS daily CSV (plain or .gz)." default:"https://epss.empiricalsecurity.com/epss_scores-current.csv.gz" env:"VIGIL_FEED_EPSS_URL"`
	DebianURL      string        `name:"debian-url" help:"Debian Security Tracker JSON." default:"https://security-tracker.debian.org/tracker/data/json" env:"VIGIL_FEED_DEBIAN_URL"`
	RecogURL       string        `name:"recog-url" help:"Base URL of Recog's xml/ directory." default:"https://raw.githubusercontent.com/rapid7/recog/main/xml/" env:"VIGIL_FEED_RECOG_URL"`
	DebianReleases []string      `help:"Keep only these Debian releases of the tracker (default: all)." placeholder:"RELEASE"`
	CacheDir       string        `help:"Where downloads wait until imported (default: feeds/ in the data directory)." env:"VIGIL_FEED_CACHE_DIR" placeholder:"DIR"`
	Timeout        time.Duration `help:"Give up on one HTTP request after this long." default:"30m"`
	NoProgress     bool          `help:"Do not draw progress."`
}

// Run syncs.
func (c *FeedsSyncCmd) Run(ctx context.Context, g *Globals) error {
	key, err := secretFromEnvFile(c.NVDAPIKey, "VIGIL_NVD_API_KEY")
	if err != nil {
		return err
	}
	st, err := openMigrated(ctx, &c.DBFlags)
	if err != nil {
		return err
	}
	defer st.Close()
	cache := c.CacheDir
	if cache == "" {
		cache = filepath.Join(c.DataDir, "feeds")
	}
	src := feeds.OfficialSources
	src.NVD, src.CPEMatch, src.KEV, src.EPSS, src.Debian, src.Recog, src.NVDAPIKey = c.NVDURL, c.CPEMatchURL, c.KEVURL, c.EPSSURL,
		c.DebianURL, c.RecogURL, key
	bar := newProgressBar(g.Stderr, !c.NoProgress)
	sy := &feeds.Syncer{
		Importer:     &feeds.Importer{Store: st, Progress: bar.report, DebianReleases: releaseSet(c.DebianReleases)},
		Sources:      src,
		CacheDir:     cache,
		Client:       &http.Client{Timeout: c.Timeout},
		NVDPageDelay: c.NVDPageDelay,
	}
	start := time.Now()
	res, err := sy.Sync(ctx, c.Sources)
	bar.done()
	printResults(g.Stdout, res, time.Since(start))
	return err
}

// FeedsStatusCmd prints feed status.
type FeedsStatusCmd struct{ DBFlags }

// Run prints the status table.
func (c *FeedsStatusCmd) Run(ctx context.Context, g *Globals) error {
	st, err := openMigrated(ctx, &c.DBFlags)
	if err != nil {
		return err
	}
	defer st.Close()
	sts, err := st.FeedStatuses(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(g.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tVERSION\tRECORDS\tLAST SYNC\tLAST ERROR")
	for _, s := range sts {
		last := "never"
		if s.LastSyncAt != nil {
			last = s.LastSyncAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", s.Source, s.Version, s.Records, last, s.LastError)
	}
	return tw.Flush()
}

func printResults(w io.Writer, res []feeds.Result, took time.Duration) {
	for _, r := range res {
		if r.Version == "unchanged" {
			fmt.Fprintf(w, "%-13s unchanged since the last sync\n", r.Source)
			continue
		}
		fmt.Fprintf(w, "%-13s %d file(s), %d record(s) read, %d stored, version %s\n", r.Source, r.Files, r.Records, r.Total, r.Version)
	}
	fmt.Fprintf(w, "took %s\n", took.Round(time.Millisecond))
}

// progressBar draws one line per source on a terminal-like writer.
type progressBar struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	line    string
	last    time.Time
}

func newProgressBar(w io.Writer, enabled bool) *progressBar {
	return &progressBar{w: w, enabled: enabled}
}

func (p *progressBar) report(source, what string, done, total int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < 100*time.Millisecond && done != total {
		return
	}
	p.last = time.Now()
	var line string
	if total > 0 {
		pct := float64(done) * 100 / float64(total)
		n := int(pct / 5)
		line = fmt.Sprintf("%-13s [%s%s] %5.1f%% %s/%s %s", source, strings.Repeat("#", n), strings.Repeat(".", 20-n), pct,
			humanCount(done, what), humanCount(total, what), what)
	} else {
		line = fmt.Sprintf("%-13s %s %s", source, humanCount(done, what), what)
	}
	fmt.Fprintf(p.w, "\r%-*s", max(len(p.line), len(line)), line)
	p.line = line
}

func (p *progressBar) done() {
	if p.enabled && p.line != "" {
		fmt.Fprintln(p.w)
	}
}

func humanCount(n int64, what string) string {
	if what != "bytes" {
		return fmt.Sprint(n)
	}
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fKiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
