package feeds_test

import (
	"context"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/feeds"
	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/scan/vulnmatch"
	"github.com/vigilscan/vigil/store"
	"github.com/vigilscan/vigil/storetest"
)

func backends(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.OpenSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.OpenPostgres(t)) })
}

// importSample loads the whole vulndb sample.
func importSample(t *testing.T, s *store.Store) map[string]feeds.Result {
	t.Helper()
	im := &feeds.Importer{Store: s}
	res, err := im.ImportDir(context.Background(), testenv.VulnDB(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]feeds.Result{}
	for _, r := range res {
		out[r.Source] = r
	}
	return out
}

// TestImportSample loads every source of the sample and checks what landed:
// every KEV and EPSS row, every NVD record (files and API page are the same
// 56 records), the tracker, the CPE match record and the Recog files.
func TestImportSample(t *testing.T) {
	backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		res := importSample(t, s)
		want := map[string]struct{ files, records, total int }{
			vigil.FeedNVD:      {57, 112, 56},
			vigil.FeedCPEMatch: {1, 1, 1},
			vigil.FeedKEV:      {1, 1404, 1404},
			vigil.FeedEPSS:     {1, 3, 3},
			vigil.FeedDebian:   {1, 55, 55},
			vigil.FeedRecog:    {9, 1725, 9},
		}
		for src, w := range want {
			r := res[src]
			if r.Files != w.files || r.Records != w.records || r.Total != w.total {
				t.Errorf("%s: %d files, %d records, %d rows; want %d, %d, %d", src, r.Files, r.Records, r.Total, w.files, w.records, w.total)
			}
		}
		sts, err := s.FeedStatuses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		versions := map[string]string{}
		for _, st := range sts {
			versions[st.Source] = st.Version
			if st.LastSyncAt == nil || st.LastError != "" {
				t.Errorf("%s: last sync %v, error %q", st.Source, st.LastSyncAt, st.LastError)
			}
		}
		for src, v := range map[string]string{vigil.FeedKEV: "2025.08.25", vigil.FeedEPSS: "v2026.06.15 2026-09-29T12:00:22Z",
			vigil.FeedNVD: "2026-"} {
			if !strings.HasPrefix(versions[src], v) {
				t.Errorf("%s version %q, want %q", src, versions[src], v)
			}
		}

		// All EPSS rows, with their exact values; KEV flags on the sample's 6 KEV CVEs.
		epss := readCSV(t, filepath.Join(testenv.VulnDB(t), "epss", "epss_scores-subset.csv"))
		kevIDs := []string{"CVE-2017-7494", "CVE-2019-10149", "CVE-2021-41773", "CVE-2021-42013", "CVE-2022-0543", "CVE-2024-38475"}
		ids := append([]string{"CVE-2024-6387", "CVE-2021-41617"}, kevIDs...)
		for _, r := range epss {
			ids = append(ids, r[0])
		}
		cves, err := s.CVEs(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range epss {
			c := cves[r[0]]
			if c == nil || formatFloat(c.EPSS) != r[1] || formatFloat(c.EPSSPercentile) != r[2] {
				t.Errorf("EPSS of %s: %+v, want %s %s", r[0], c, r[1], r[2])
			}
		}
		for _, id := range kevIDs {
			if c := cves[id]; c == nil || !c.KEV {
				t.Errorf("%s: not flagged KEV", id)
			}
		}
		if c := cves["CVE-2024-6387"]; c == nil || c.KEV || c.Score != 8.1 || c.Vector != "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H" || !c.Assessed() {
			t.Errorf("CVE-2024-6387: %+v", c)
		}
	})
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	r := csv.NewReader(f)
	r.Comment = '#'
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[0] != "cve" {
			rows = append(rows, rec)
		}
	}
	return rows
}

// TestExpectedVerdictsFromStore reproduces both columns of
// expected-verdicts.tsv from the imported data: the tracker column through
// MatchPackages (what an authenticated scan does), the NVD column through the
// store's product index and the records' stored configurations.
func TestExpectedVerdictsFromStore(t *testing.T) {
	backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		importSample(t, s)
		debian12 := vulnmatch.CPE{Part: "o", Vendor: "debian", Product: "debian_linux", Version: "12.0", Update: "-", Edition: "-",
			Language: "-", SWEdition: "-", TargetSW: "-", TargetHW: "-", Other: "-"}
		rows := readTSV(t, filepath.Join(testenv.VulnDB(t), "expected-verdicts.tsv"))
		if len(rows) < 100 {
			t.Fatalf("%d rows", len(rows))
		}
		for _, r := range rows {
			id := r["cve"]
			// Tracker column.
			ms, err := vulnmatch.MatchPackages(ctx, s, "bookworm", []vulnmatch.Package{{Source: r["source_package"], Version: r["debian_version"]}})
			if err != nil {
				t.Fatal(err)
			}
			got := "fixed-or-not-affected"
			for _, m := range ms {
				if m.CVE.ID == id {
					got = m.Verdict.String()
					if m.Confidence != vulnmatch.ConfidencePackage {
						t.Errorf("%s: confidence %d", id, m.Confidence)
					}
				}
			}
			want := r["debian_tracker_verdict"]
			if want == "fixed" || want == "not-affected" {
				want = "fixed-or-not-affected"
			}
			if got != want {
				t.Errorf("%s %s %s: tracker %s, want %s", id, r["source_package"], r["debian_version"], got, want)
			}

			// NVD column.
			p, _ := vulnmatch.ProductByDebianSource(r["source_package"])
			cves, err := s.ProductCVEs(ctx, p.CPEs)
			if err != nil {
				t.Fatal(err)
			}
			nvd := "product-not-listed"
			for _, c := range cves {
				if c.ID == id {
					nvd = map[vulnmatch.VerdictState]string{vulnmatch.Vulnerable: "vulnerable", vulnmatch.NotVulnerable: "not-vulnerable"}[vulnmatch.NVDVerdictForProduct(c.Configurations, p, r["upstream_version"], debian12).State]
				}
			}
			if nvd == "product-not-listed" {
				rec, err := s.CVEs(ctx, []string{id})
				if err != nil {
					t.Fatal(err)
				}
				if c := rec[id]; c != nil && !c.Assessed() {
					nvd = "no-cpe-config"
				}
			}
			if nvd != r["nvd_cpe_verdict"] {
				t.Errorf("%s %s %s: NVD %s, want %s", id, r["source_package"], r["upstream_version"], nvd, r["nvd_cpe_verdict"])
			}
		}
	})
}

// TestBackportTrapBanner: OpenSSH 9.2p1 with a Debian 12 security revision
// is judged by the tracker (CVE-2024-6387 fixed in deb12u3), the same
// version without a release in its revision only at a confidence below the
// display threshold, and a plain upstream banner by NVD.
func TestBackportTrapBanner(t *testing.T) {
	s := storetest.OpenSQLite(t)
	importSample(t, s)
	ctx := context.Background()
	find := func(banner string) *vulnmatch.Match {
		ms, err := vulnmatch.MatchBanner(ctx, s, "OpenSSH", "9.2p1", banner)
		if err != nil {
			t.Fatal(err)
		}
		for i := range ms {
			if ms[i].CVE.ID == "CVE-2024-6387" {
				return &ms[i]
			}
		}
		return nil
	}
	if m := find("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10"); m != nil {
		t.Errorf("deb12u10 (fixed by backport): reported %+v", m)
	}
	if m := find("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2"); m == nil || m.Confidence != vulnmatch.ConfidenceDistroBanner ||
		m.Verdict.FixedIn != "1:9.2p1-2+deb12u3" {
		t.Errorf("deb12u2 (before the fix): %+v", m)
	}
	if m := find("SSH-2.0-OpenSSH_9.2p1 Debian-2"); m == nil || m.Confidence >= vulnmatch.DisplayThreshold {
		t.Errorf("Debian-2 (release unknown): %+v, want a match below the display threshold", m)
	}
	if m := find("SSH-2.0-OpenSSH_9.2p1"); m == nil || m.Confidence != vulnmatch.ConfidenceBanner {
		t.Errorf("plain upstream banner: %+v", m)
	}
}

// TestImportIsTransactional: a broken KEV file fails its source only; the
// previous KEV data stays, the error is recorded, and the other sources of
// the same directory still load.
func TestImportIsTransactional(t *testing.T) {
	backends(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		importSample(t, s)
		dir := t.TempDir()
		full, err := os.ReadFile(filepath.Join(testenv.VulnDB(t), "kev", "known_exploited_vulnerabilities.json"))
		if err != nil {
			t.Fatal(err)
		}
		// The catalog's entries cut after the first 100 KB: the count no longer holds.
		cut := string(full[:100_000])
		cut = cut[:strings.LastIndex(cut, "},")+1] + "]}"
		if err := os.WriteFile(filepath.Join(dir, "kev.json"), []byte(cut), 0o600); err != nil {
			t.Fatal(err)
		}
		epss := "#model_version:v2099.01.01,score_date:2099-01-01T00:00:00Z\ncve,epss,percentile\nCVE-2024-6387,0.5,0.9\n"
		if err := os.WriteFile(filepath.Join(dir, "epss.csv"), []byte(epss), 0o600); err != nil {
			t.Fatal(err)
		}
		im := &feeds.Importer{Store: s}
		_, err = im.ImportDir(ctx, dir)
		if err == nil || !strings.Contains(err.Error(), "kev") {
			t.Fatalf("import of a truncated KEV catalog: %v", err)
		}
		sts, _ := s.FeedStatuses(ctx)
		for _, st := range sts {
			switch st.Source {
			case vigil.FeedKEV:
				if st.Records != 1404 || st.Version != "2025.08.25" || !strings.Contains(st.LastError, "catalog says") {
					t.Errorf("kev after a failed import: %+v", st)
				}
			case vigil.FeedEPSS:
				if st.Records != 1 || st.Version != "v2099.01.01 2099-01-01T00:00:00Z" {
					t.Errorf("epss: %+v", st)
				}
			}
		}
		cves, _ := s.CVEs(ctx, []string{"CVE-2017-7494"})
		if c := cves["CVE-2017-7494"]; c == nil || !c.KEV {
			t.Errorf("KEV flag lost after a failed KEV import: %+v", c)
		}
	})
}

func readTSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	head := strings.Split(lines[0], "\t")
	var out []map[string]string
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		m := map[string]string{}
		for i, h := range head {
			if i < len(f) {
				m[h] = f[i]
			}
		}
		out = append(out, m)
	}
	return out
}
