package vulnmatch

import (
	"fmt"
	"math"
	"strings"

	gocvss20 "github.com/pandatix/go-cvss/20"
	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"
)

// CVSSBase computes the base score of a CVSS vector and names its version
// ("4.0", "3.1", "3.0" or "2.0"). Version 3 and 4 vectors carry their
// "CVSS:x.y/" prefix; a vector without one is version 2 (as NVD writes it,
// with or without parentheses).
func CVSSBase(vector string) (score float64, version string, err error) {
	v := strings.TrimSpace(vector)
	switch {
	case strings.HasPrefix(v, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(v)
		if err != nil {
			return 0, "", fmt.Errorf("CVSS 4.0 vector %q: %w", vector, err)
		}
		return round1(c.Score()), "4.0", nil
	case strings.HasPrefix(v, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(v)
		if err != nil {
			return 0, "", fmt.Errorf("CVSS 3.1 vector %q: %w", vector, err)
		}
		return c.BaseScore(), "3.1", nil
	case strings.HasPrefix(v, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(v)
		if err != nil {
			return 0, "", fmt.Errorf("CVSS 3.0 vector %q: %w", vector, err)
		}
		return c.BaseScore(), "3.0", nil
	case strings.HasPrefix(v, "CVSS:"):
		return 0, "", fmt.Errorf("CVSS vector %q: unknown version", vector)
	}
	c, err := gocvss20.ParseVector(strings.TrimSuffix(strings.TrimPrefix(v, "("), ")"))
	if err != nil {
		return 0, "", fmt.Errorf("CVSS 2.0 vector %q: %w", vector, err)
	}
	return c.BaseScore(), "2.0", nil
}

// round1 rounds to one decimal, as scores are published.
func round1(x float64) float64 { return math.Round(x*10) / 10 }
