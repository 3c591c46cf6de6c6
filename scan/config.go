package scan

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
)

// Dialer opens TCP connections; tests inject counting dialers.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Resolver resolves target hostnames.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Mode chooses the TCP port scanner.
type Mode string

// Modes.
const (
	ModeAuto    Mode = "auto"    // SYN when privileged, connect otherwise
	ModeConnect Mode = "connect" // full TCP handshakes through the OS
	ModeSYN     Mode = "syn"     // raw SYN packets (root)
)

// Config is one scan.
type Config struct {
	Hosts        string // targets, as in the API: addresses, CIDRs, ranges, hostnames
	ExcludeHosts string
	Ports        string // "1-1024,8080,U:53", or a built-in port list name or key ("Common TCP", "web")
	AliveTest    vigil.AliveTest
	Mode         Mode

	Scope    Scope    // the scope guard; the zero value allows everything
	Dialer   Dialer   // default net.Dialer
	Resolver Resolver // default net.DefaultResolver

	Rate            int           // probes (connection attempts, packets) per second for the whole scan; 0 = no limit
	MaxHosts        int           // hosts scanned in parallel
	MaxConnsPerHost int           // probes in flight per host
	InitialTimeout  time.Duration // probe timeout before any round trip is measured
	MinTimeout      time.Duration // adaptive timeout bounds
	MaxTimeout      time.Duration
	Retries         int           // retransmissions of an unanswered probe
	HostTimeout     time.Duration // give up on a host after this long (0 = never)

	ServiceDetection bool
	ServiceTimeout   time.Duration // per port, for all probes together
	// DetectService is the service detector (scan/fingerprint provides one);
	// nil with ServiceDetection set reports only port-based guesses.
	DetectService func(ctx context.Context, d Dialer, addr netip.Addr, port int) (*Service, error)

	// Checks run on each host after its service detection and report
	// findings (scan/checks provides them); nil runs none.
	Checks func(ctx context.Context, d Dialer, h HostServices, report func(vigil.FindingResult))
	// CheckTimeout bounds one host's checks together (0: no bound besides HostTimeout).
	CheckTimeout time.Duration

	ProgressEvery time.Duration // progress event period; 0 = none
	Now           func() time.Time
}

// HostServices is a host with the services detection found on it: what
// its checks start from.
type HostServices struct {
	Addr     netip.Addr
	Hostname string
	Services []PortService
}

// PortService is one open port's service.
type PortService struct {
	Port     int
	Protocol string // tcp, udp
	Service  *Service
}

// DefaultConfig returns the defaults: Common TCP, ICMP + TCP ping, 5,000
// probes/s, 32 hosts and 512 probes per host in parallel, 2 retransmissions.
func DefaultConfig() Config {
	return Config{
		Ports:           "common-tcp",
		AliveTest:       vigil.AliveScanConfigDefault,
		Mode:            ModeAuto,
		Rate:            5000,
		MaxHosts:        32,
		MaxConnsPerHost: 512,
		InitialTimeout:  time.Second,
		MinTimeout:      100 * time.Millisecond,
		MaxTimeout:      3 * time.Second,
		Retries:         2,
		ServiceTimeout:  8 * time.Second,
		ProgressEvery:   5 * time.Second,
	}
}

func (c *Config) validate() error {
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Mode == "" {
		c.Mode = ModeAuto
	}
	if c.AliveTest == "" {
		c.AliveTest = vigil.AliveScanConfigDefault
	}
	valid := false
	for _, a := range vigil.AliveTests {
		valid = valid || a == c.AliveTest
	}
	if !valid {
		return fmt.Errorf("scan: unknown alive test %q", c.AliveTest)
	}
	switch c.Mode {
	case ModeAuto, ModeConnect, ModeSYN:
	default:
		return fmt.Errorf("scan: unknown mode %q (auto, connect, syn)", c.Mode)
	}
	if c.MaxHosts <= 0 {
		c.MaxHosts = 32
	}
	if c.MaxConnsPerHost <= 0 {
		c.MaxConnsPerHost = 512
	}
	if c.InitialTimeout <= 0 {
		c.InitialTimeout = time.Second
	}
	if c.MinTimeout <= 0 {
		c.MinTimeout = 100 * time.Millisecond
	}
	if c.MaxTimeout < c.MinTimeout {
		c.MaxTimeout = max(c.MinTimeout, 3*time.Second)
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.ServiceTimeout <= 0 {
		c.ServiceTimeout = 8 * time.Second
	}
	return nil
}

// ParsePorts resolves a port selection: a built-in port list (by key or
// name, e.g. "common-tcp", "All TCP"), a spec like "1-1024,8080,U:53", or
// "-" for every TCP port as in nmap's -p-.
func ParsePorts(s string) ([]vigil.PortRange, error) {
	if strings.TrimSpace(s) == "-" { // nmap's -p-: every TCP port
		s = "1-65535"
	}
	if l, ok := vigil.FindBuiltinPortList(s); ok {
		return l.Ranges, nil
	}
	rs, err := vigil.ParsePortRanges(s)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no ports selected")
	}
	if err := vigil.CheckPortRangeOverlap(rs); err != nil {
		return nil, err
	}
	return rs, nil
}
