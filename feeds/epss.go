package feeds

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// EPSSFile is a FIRST EPSS daily CSV: the model that scored it, the score
// date and a row per CVE.
type EPSSFile struct {
	Model     string
	ScoreDate string
	Scores    []EPSSScore
}

// EPSSScore is one CVE's probability of exploitation in the next 30 days
// and its percentile among all scored CVEs.
type EPSSScore struct {
	CVE        string
	Score      float64
	Percentile float64
}

// Version names the file's model and score date, as the feed status shows it.
func (f *EPSSFile) Version() string {
	return strings.TrimSpace(f.Model + " " + f.ScoreDate)
}

// ParseEPSS reads an EPSS CSV, plain or gzipped: the comment line
// "#model_version:v2026.06.15,score_date:2026-09-29T12:00:22Z", the header
// "cve,epss,percentile", then the rows.
func ParseEPSS(r io.Reader) (*EPSSFile, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("epss: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	f := &EPSSFile{}
	first, err := br.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("epss: empty file")
	}
	if first[0] == '#' {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("epss: %w", err)
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "#")), ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch k {
			case "model_version":
				f.Model = v
			case "score_date":
				f.ScoreDate = v
			}
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("epss: header: %w", err)
	}
	if header[0] != "cve" || header[1] != "epss" || header[2] != "percentile" {
		return nil, fmt.Errorf("epss: header %q, want cve,epss,percentile", strings.Join(header, ","))
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("epss: %w", err)
		}
		line, _ := cr.FieldPos(0)
		s := EPSSScore{CVE: rec[0]}
		if !strings.HasPrefix(s.CVE, "CVE-") {
			return nil, fmt.Errorf("epss: line %d: %q is not a CVE id", line, s.CVE)
		}
		if s.Score, err = strconv.ParseFloat(rec[1], 64); err != nil || s.Score < 0 || s.Score > 1 {
			return nil, fmt.Errorf("epss: line %d: score %q is not a probability", line, rec[1])
		}
		if s.Percentile, err = strconv.ParseFloat(rec[2], 64); err != nil || s.Percentile < 0 || s.Percentile > 1 {
			return nil, fmt.Errorf("epss: line %d: percentile %q is not in [0, 1]", line, rec[2])
		}
		f.Scores = append(f.Scores, s)
	}
	return f, nil
}
