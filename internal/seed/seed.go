// Package seed fills an organization with realistic scan results through the
// same path a scanner node takes (start, claim, record in batches, finish),
// for benchmarks and demos: `vigil dev seed`.
package seed

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/vigilscan/vigil"
)

// Store is what seeding needs.
type Store interface {
	vigil.TargetService
	vigil.ScanService
	vigil.RunQueue
	vigil.ResultSink
}

// Options size the data.
type Options struct {
	Hosts         int // assets, spread over the scans
	Findings      int // in all, over the hosts
	Scans         int
	BatchFindings int // findings per batch written (a node's flush)
	FixedPerMille int // a second run of each scan drops this share of findings (0: one run per scan)
	Progress      func(done, total int)
}

// Stats is what seeding did.
type Stats struct {
	Findings int           // finding rows written (both runs count)
	Ingest   time.Duration // time spent in RecordResults and FinishRun
}

// PerSecond is the ingest throughput.
func (s Stats) PerSecond() float64 { return float64(s.Findings) / s.Ingest.Seconds() }

// check is one entry of the synthetic check catalog.
type check struct {
	id, name, cve string
	severity      float64
	port          int
}

// catalog is 400 checks with a severity mix like real scans: mostly Log and
// Low, a tail of Medium and High.
func catalog(r *rand.Rand) []check {
	ports := []int{22, 25, 53, 80, 110, 143, 443, 445, 3306, 3389, 5432, 8080, 8443}
	out := make([]check, 400)
	for i := range out {
		var sev float64
		switch p := r.IntN(100); {
		case p < 35:
			sev = 0
		case p < 65:
			sev = float64(1+r.IntN(39)) / 10
		case p < 90:
			sev = 4 + float64(r.IntN(30))/10
		default:
			sev = 7 + float64(r.IntN(31))/10
		}
		out[i] = check{id: fmt.Sprintf("seed.check-%03d", i), name: fmt.Sprintf("Synthetic check %03d", i),
			severity: sev, port: ports[r.IntN(len(ports))]}
		if sev > 0 && i%2 == 0 {
			out[i].cve = fmt.Sprintf("CVE-20%02d-%05d", 10+r.IntN(16), 1000+i)
		}
	}
	return out
}

// Run seeds orgID.
func Run(ctx context.Context, st Store, orgID string, o Options) (Stats, error) {
	var stats Stats
	if o.Scans <= 0 {
		o.Scans = 10
	}
	if o.BatchFindings <= 0 {
		o.BatchFindings = 2000
	}
	if o.Hosts < o.Scans {
		return stats, fmt.Errorf("seed: at least one host per scan (%d scans)", o.Scans)
	}
	r := rand.New(rand.NewPCG(1, 2))
	checks := catalog(r)
	perHost := max(o.Findings/o.Hosts, 1)
	if perHost > len(checks) {
		return stats, fmt.Errorf("seed: at most %d findings per host", len(checks))
	}
	hostsPerScan := o.Hosts / o.Scans
	total := o.Hosts * perHost
	if o.FixedPerMille > 0 {
		total *= 2
	}
	node := "seed-" + vigil.NewID()
	for s := range o.Scans {
		first := netip.AddrFrom4([4]byte{10, byte(s), 0, 1})
		hosts := make([]netip.Addr, hostsPerScan)
		a := first
		for i := range hosts {
			hosts[i] = a
			a = a.Next()
		}
		hostsSpec := fmt.Sprintf("%s-%s", first, hosts[len(hosts)-1])
		name := fmt.Sprintf("seed %02d", s)
		t, err := st.CreateTarget(ctx, orgID, vigil.TargetInput{Name: &name, Hosts: &hostsSpec})
		if err != nil {
			return stats, err
		}
		sc, err := st.CreateScan(ctx, orgID, vigil.ScanInput{Name: &name, TargetID: &t.ID})
		if err != nil {
			return stats, err
		}
		runs := 1
		if o.FixedPerMille > 0 {
			runs = 2
		}
		for run := range runs {
			drop := 0
			if run == 1 {
				drop = o.FixedPerMille
			}
			if err := seedRun(ctx, st, orgID, sc.ID, node, hosts, checks, perHost, drop, o, &stats, total); err != nil {
				return stats, err
			}
		}
	}
	return stats, nil
}

func seedRun(ctx context.Context, st Store, orgID, scanID, node string, hosts []netip.Addr, checks []check, perHost, dropPerMille int,
	o Options, stats *Stats, total int) error {
	if _, err := st.StartScan(ctx, orgID, scanID); err != nil {
		return err
	}
	run, _, err := st.ClaimRun(ctx, "local", node, time.Hour)
	if err != nil {
		return err
	}
	if run == nil || run.ScanID != scanID {
		return fmt.Errorf("seed: another run was waiting (is a scanner node running? stop the server while seeding)")
	}
	r := rand.New(rand.NewPCG(uint64(len(hosts)), 7))
	b := &vigil.ResultBatch{}
	flush := func() error {
		t0 := time.Now()
		err := st.RecordResults(ctx, run.ID, node, b)
		stats.Ingest += time.Since(t0)
		stats.Findings += len(b.Findings)
		*b = vigil.ResultBatch{}
		if o.Progress != nil {
			o.Progress(stats.Findings, total)
		}
		return err
	}
	for hi, a := range hosts {
		b.Hosts = append(b.Hosts, vigil.HostResult{Address: a, Status: "up", Reason: "syn-ack", OS: "Debian GNU/Linux"})
		// Each host has its own fixed subset of the catalog.
		hr := rand.New(rand.NewPCG(uint64(hi), 11))
		picks := hr.Perm(len(checks))[:perHost]
		open := map[int]bool{}
		for _, ci := range picks {
			if dropPerMille > 0 && r.IntN(1000) < dropPerMille {
				continue
			}
			c := checks[ci]
			open[c.port] = true
			b.Findings = append(b.Findings, vigil.FindingResult{Address: a, Port: c.port, Protocol: "tcp", CheckID: c.id, CVE: c.cve,
				Name: c.name, Family: "Synthetic", Severity: c.severity, QoD: 80, PCIFail: c.port == 3306 || c.port == 5432,
				Description: "Seeded finding for benchmarks.", Solution: "None: this is test data.",
				Evidence: fmt.Sprintf("%s on %s:%d", c.id, a, c.port)})
		}
		for p := range open {
			b.Ports = append(b.Ports, vigil.PortResult{Address: a, Port: p, Protocol: "tcp", State: "open", Reason: "syn-ack"})
		}
		b.Hosts = append(b.Hosts, vigil.HostResult{Address: a, Done: true, Open: len(open)})
		if len(b.Findings) >= o.BatchFindings {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if b.Len() > 0 {
		if err := flush(); err != nil {
			return err
		}
	}
	t0 := time.Now()
	err = st.FinishRun(ctx, run.ID, node, vigil.StatusDone, "")
	stats.Ingest += time.Since(t0)
	return err
}
