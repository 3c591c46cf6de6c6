package main

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilscan/vigil/internal/seed"
)

// DevCmd groups developer tools.
type DevCmd struct {
	Seed DevSeedCmd `cmd:"" help:"Fill an organization with synthetic scan results (for benchmarks and demos); stop the server first."`
}

// DevSeedCmd seeds scan results through the scanner node's write path.
type DevSeedCmd struct {
	DBFlags
	Organization string `help:"Organization id (default: the only organization)." placeholder:"UUID"`
	Findings     int    `help:"Findings in all." default:"1000000"`
	Hosts        int    `help:"Hosts (assets) they are spread over." default:"10000"`
	Scans        int    `help:"Scans the hosts are split between." default:"10"`
	Fixed        int    `help:"Per mille of findings a second run of each scan fixes (0: one run per scan)." default:"0"`
	Batch        int    `help:"Findings per write (a node's flush)." default:"2000"`
}

// Run seeds and prints the ingest throughput.
func (c *DevSeedCmd) Run(ctx context.Context, g *Globals) error {
	st, orgID, err := openForAdmin(ctx, &c.DBFlags, c.Organization)
	if err != nil {
		return err
	}
	defer st.Close()
	last := time.Now()
	stats, err := seed.Run(ctx, st, orgID, seed.Options{Hosts: c.Hosts, Findings: c.Findings, Scans: c.Scans,
		FixedPerMille: c.Fixed, BatchFindings: c.Batch, Progress: func(done, total int) {
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				fmt.Fprintf(g.Stderr, "seeded %d of %d findings\n", done, total)
			}
		}})
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Stdout, "seeded %d findings over %d hosts in %d scans: ingest %.1f s, %.0f findings/s\n",
		stats.Findings, c.Hosts, c.Scans, stats.Ingest.Seconds(), stats.PerSecond())
	return nil
}
