package fingerprint

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// RecogDB holds Rapid7 Recog fingerprints (BSD-2; loaded from a directory,
// never bundled), keyed by what they match ("ssh.banner", "http_header.server").
type RecogDB struct {
	byMatch map[string][]recogFP
	Skipped int // patterns that did not compile
}

type recogFP struct {
	re          *regexp.Regexp
	description string
	params      []recogParam
}

type recogParam struct {
	pos   int
	name  string
	value string
}

type xmlFingerprints struct {
	Matches      string `xml:"matches,attr"`
	Fingerprints []struct {
		Pattern     string `xml:"pattern,attr"`
		Flags       string `xml:"flags,attr"`
		Description string `xml:"description"`
		Params      []struct {
			Pos   string `xml:"pos,attr"`
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"param"`
		Examples []struct {
			Encoding string     `xml:"_encoding,attr"`
			Attrs    []xml.Attr `xml:",any,attr"`
			Text     string     `xml:",chardata"`
		} `xml:"example"`
	} `xml:"fingerprint"`
}

// LoadRecog reads every *.xml file of dir.
func LoadRecog(dir string) (*RecogDB, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("recog: no *.xml fingerprint files in %s", dir)
	}
	contents := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		contents[filepath.Base(f)] = data
	}
	return ParseRecog(contents)
}

// ParseRecog builds a database from fingerprint files by name (as a feed
// import keeps them).
func ParseRecog(files map[string][]byte) (*RecogDB, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names) // the first matching fingerprint wins: keep the order stable
	db := &RecogDB{byMatch: map[string][]recogFP{}}
	for _, name := range names {
		var doc xmlFingerprints
		if err := xml.Unmarshal(files[name], &doc); err != nil {
			return nil, fmt.Errorf("recog: %s: %w", name, err)
		}
		if doc.Matches == "" {
			return nil, fmt.Errorf("recog: %s: not a fingerprints file (no matches attribute)", name)
		}
		for _, fp := range doc.Fingerprints {
			prefix := ""
			if strings.Contains(fp.Flags, "REG_ICASE") {
				prefix += "(?i)"
			}
			if strings.Contains(fp.Flags, "REG_MULTILINE") || strings.Contains(fp.Flags, "REG_DOT_NEWLINE") {
				prefix += "(?s)" // Ruby's /m: dot matches newline
			}
			re, err := regexp.Compile(prefix + fp.Pattern)
			if err != nil {
				db.Skipped++
				continue
			}
			r := recogFP{re: re, description: fp.Description}
			for _, p := range fp.Params {
				pos, _ := strconv.Atoi(p.Pos)
				r.params = append(r.params, recogParam{pos: pos, name: p.Name, value: p.Value})
			}
			db.byMatch[doc.Matches] = append(db.byMatch[doc.Matches], r)
		}
	}
	return db, nil
}

// Count is the number of loaded fingerprints.
func (db *RecogDB) Count() int {
	n := 0
	for _, fps := range db.byMatch {
		n += len(fps)
	}
	return n
}

// Match returns the params of the first fingerprint of kind that matches
// text, with {name} templates filled in, or nil.
func (db *RecogDB) Match(kind, text string) map[string]string {
	if db == nil {
		return nil
	}
	for _, fp := range db.byMatch[kind] {
		m := fp.re.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		out := map[string]string{"fingerprint": fp.description}
		for _, p := range fp.params {
			switch {
			case p.pos == 0:
				out[p.name] = p.value
			case p.pos < len(m):
				out[p.name] = m[p.pos]
			}
		}
		for k, v := range out {
			for strings.Contains(v, "{") {
				i := strings.Index(v, "{")
				j := strings.Index(v[i:], "}")
				if j < 0 {
					break
				}
				v = v[:i] + out[v[i+1:i+j]] + v[i+j+1:]
			}
			out[k] = v
		}
		return out
	}
	return nil
}

// LoadRecogExamples returns each fingerprint's self-test examples for kind (decoded),
// for tests that check the loader against the files' own claims.
func LoadRecogExamples(path string) (kind string, examples []RecogExample, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var doc xmlFingerprints
	if err := xml.Unmarshal(data, &doc); err != nil {
		return "", nil, err
	}
	for _, fp := range doc.Fingerprints {
		for _, ex := range fp.Examples {
			text := ex.Text
			if ex.Encoding == "base64" {
				b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
				if err != nil {
					continue
				}
				text = string(b)
			}
			want := map[string]string{}
			for _, a := range ex.Attrs {
				if a.Name.Local != "_encoding" && a.Name.Local != "_filename" {
					want[a.Name.Local] = a.Value
				}
			}
			examples = append(examples, RecogExample{Text: text, Want: want, Description: fp.Description})
		}
	}
	return doc.Matches, examples, nil
}

// RecogExample is one <example> of a fingerprint.
type RecogExample struct {
	Text        string
	Want        map[string]string
	Description string
}
