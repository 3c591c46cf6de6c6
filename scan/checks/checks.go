// Package checks is Vigil's registry of network vulnerability checks and
// the runner that applies them, with CVE matching of detected versions, to
// each scanned host. Checks are safe: they prove a weakness with the
// protocol's own read-only steps (a login that is refused or closed at once,
// a command that changes nothing) and never send a payload meant to crash or
// alter a service.
package checks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/vulnmatch"
)

// Check is one registered check.
type Check struct {
	ID          string // stable: findings are tracked across runs by it
	Name        string
	Family      string
	Vector      string  // CVSS v3.1 base vector
	Score       float64 // computed from Vector at registration
	Description string
	Impact      string
	Solution    string
	References  []string
	PCIFail     bool   // an automatic PCI failure whatever the score
	Evidence    string // what the finding's evidence records
	QoD         int    // confidence of a positive result, 0-100

	// Applies selects the services the check runs on.
	Applies func(ps scan.PortService) bool
	// Run probes one service. found with evidence reports the weakness;
	// an error means the check could not decide (it is logged, not a finding).
	Run func(ctx context.Context, t *Target, ps scan.PortService) (evidence string, found bool, err error)
}

// Target is the host a check runs against.
type Target struct {
	Addr     netip.Addr
	Hostname string
	Dialer   scan.Dialer
	Now      time.Time
	Timeout  time.Duration // per network exchange

	mu    sync.Mutex
	memos map[string]*memo
}

// memo is one shared exchange's outcome.
type memo struct {
	once sync.Once
	val  any
	err  error
}

// shared runs fetch once per key for all the checks of a host: several
// checks judge the same answer (GET /, a certificate, an SSH KEXINIT), and
// the service is asked once.
func shared[T any](t *Target, key string, fetch func() (T, error)) (T, error) {
	t.mu.Lock()
	if t.memos == nil {
		t.memos = map[string]*memo{}
	}
	m := t.memos[key]
	if m == nil {
		m = &memo{}
		t.memos[key] = m
	}
	t.mu.Unlock()
	m.once.Do(func() { m.val, m.err = fetch() })
	v, _ := m.val.(T)
	return v, m.err
}

// Dial opens a connection to the target's port (network "tcp" or "udp").
func (t *Target) Dial(ctx context.Context, network string, port int) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	c, err := t.Dialer.DialContext(ctx, network, net.JoinHostPort(t.Addr.String(), strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(t.Timeout))
	return c, nil
}

// ServerName is the name a TLS or HTTP check presents: the hostname the
// target was scanned under, else its address.
func (t *Target) ServerName() string {
	if t.Hostname != "" {
		return t.Hostname
	}
	return t.Addr.String()
}

var registry = map[string]*Check{}

// register adds checks at init; a bad vector or a duplicate id is a bug.
func register(cs ...*Check) {
	for _, c := range cs {
		if _, dup := registry[c.ID]; dup {
			panic("checks: duplicate id " + c.ID)
		}
		score, version, err := vulnmatch.CVSSBase(c.Vector)
		if err != nil || version != "3.1" {
			panic(fmt.Sprintf("checks: %s: vector %q: %v (version %s)", c.ID, c.Vector, err, version))
		}
		c.Score = score
		if c.QoD == 0 {
			c.QoD = 95
		}
		registry[c.ID] = c
	}
}

// All returns every registered check, by id.
func All() []*Check {
	out := make([]*Check, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ByID finds a check.
func ByID(id string) (*Check, bool) {
	c, ok := registry[id]
	return c, ok
}

// Finding turns a positive result into a finding.
func (c *Check) Finding(ps scan.PortService, evidence string) vigil.FindingResult {
	desc := c.Description
	if c.Impact != "" {
		desc += "\n\nImpact: " + c.Impact
	}
	if len(c.References) > 0 {
		desc += "\n\nReferences: " + strings.Join(c.References, " ")
	}
	return vigil.FindingResult{Port: ps.Port, Protocol: ps.Protocol, CheckID: c.ID, Name: c.Name, Family: c.Family,
		Severity: c.Score, CVSSVector: c.Vector, QoD: c.QoD, PCIFail: c.PCIFail, Description: desc, Solution: c.Solution,
		Evidence: evidence}
}

// Runner applies checks and CVE matching to hosts; its Run is a
// scan.Config.Checks.
type Runner struct {
	Checks []*Check // nil: All()
	// Intel, when set, matches detected product versions against the
	// imported CVE data.
	Intel vulnmatch.Data
	// PerHost bounds the checks running at once against one host, so a
	// scan never floods a service.
	PerHost int
	Timeout time.Duration // per network exchange
	Now     func() time.Time
	// SSH, when set, is the run's login for an authenticated scan of each
	// host: its packages are judged by the tracker (see authenticatedScan).
	SSH *vigil.SSHLogin
	// OnError receives checks that could not decide (nil: ignored).
	OnError func(addr netip.Addr, port int, checkID string, err error)
}

// Run runs every applicable check on h's services, then CVE matching.
func (r *Runner) Run(ctx context.Context, d scan.Dialer, h scan.HostServices, report func(vigil.FindingResult)) {
	checks := r.Checks
	if checks == nil {
		checks = All()
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	t := &Target{Addr: h.Addr, Hostname: h.Hostname, Dialer: d, Now: now(), Timeout: r.timeout()}
	per := r.PerHost
	if per <= 0 {
		per = 4
	}
	var mu sync.Mutex
	emit := func(f vigil.FindingResult) {
		mu.Lock()
		defer mu.Unlock()
		report(f)
	}
	sem := make(chan struct{}, per)
	var wg sync.WaitGroup
	for _, ps := range h.Services {
		if ps.Service == nil {
			continue
		}
		for _, c := range checks {
			if !c.Applies(ps) {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				ev, found, err := c.Run(ctx, t, ps)
				switch {
				case err != nil:
					if r.OnError != nil && ctx.Err() == nil {
						r.OnError(h.Addr, ps.Port, c.ID, err)
					}
				case found:
					emit(c.Finding(ps, ev))
				}
			}()
		}
	}
	wg.Wait()
	var judged map[string]bool
	if r.SSH != nil && ctx.Err() == nil {
		judged = r.authenticatedScan(ctx, d, h, emit)
	}
	if r.Intel != nil {
		for _, ps := range h.Services {
			if ps.Service == nil {
				continue
			}
			if p, ok := vulnmatch.ProductByName(ps.Service.Product); ok && judged[p.DebianSource] {
				continue // the installed package was judged: its banner adds nothing
			}
			for _, f := range r.matchService(ctx, h.Addr, ps) {
				emit(f)
			}
		}
	}
}

func (r *Runner) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return 5 * time.Second
}

// service name helpers.

func named(names ...string) func(scan.PortService) bool {
	return func(ps scan.PortService) bool {
		n := scan.PlainName(ps.Service.Name)
		for _, want := range names {
			if n == want {
				return true
			}
		}
		return false
	}
}

func isTLS(ps scan.PortService) bool { return ps.Protocol == "tcp" && ps.Service.TLS != nil }
