package testbed_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/internal/testenv"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/fingerprint"
	"github.com/vigilscan/vigil/testbed"
)

// requireDaemons skips (or fails under CI=true) without root or with
// daemons missing (what names the testbed, missing lists what is not installed).
func requireDaemons(t *testing.T, what string, missing []string) {
	t.Helper()
	var why string
	if os.Geteuid() != 0 {
		why = what + " needs root (daemons bind privileged ports)"
	} else if len(missing) > 0 {
		why = what + ": packages missing: " + strings.Join(missing, ", ") + " (install them as .ci/run does)"
	}
	if why != "" {
		testenv.Unavailable(t, why)
	}
}

func requireTestbed(t *testing.T) { t.Helper(); requireDaemons(t, "the testbed", testbed.Missing()) }

func startTestbed(t *testing.T) *testbed.Testbed {
	requireTestbed(t)
	tb, err := testbed.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.Stop)
	if len(tb.Skipped) > 0 {
		t.Fatalf("testbed daemons did not start: %v", tb.Skipped)
	}
	return tb
}

func detector(t *testing.T) *fingerprint.Detector {
	opts := []fingerprint.Option{fingerprint.WithBannerWait(time.Second)}
	if dir := os.Getenv("VIGIL_TESTDATA"); dir != "" {
		db, err := fingerprint.LoadRecog(filepath.Join(dir, "vulndb", "recog"))
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, fingerprint.WithRecog(db))
	}
	return fingerprint.New(opts...)
}

type portKey struct {
	host  string
	port  int
	proto string
}

func TestTestbedScan(t *testing.T) {
	tb := startTestbed(t)
	hosts := append(tb.Hosts(), "127.0.0.1")
	before := kernelPorts(t, hosts)
	cfg := scan.DefaultConfig()
	cfg.Hosts, cfg.Ports, cfg.Rate, cfg.ProgressEvery = strings.Join(hosts, ","), "T:1-65535,U:53,161,11211", 0, 0
	cfg.Scope, _ = scan.ParseScope("127.0.0.0/8")
	cfg.ServiceDetection, cfg.DetectService = true, detector(t).Detect
	s, err := scan.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]map[int]bool{}
	services := map[portKey]*scan.Service{}
	up := map[string]bool{}
	for ev := range s.Run(context.Background()) {
		h := ev.Host.String()
		switch ev.Type {
		case scan.EventHostUp:
			up[h] = true
		case scan.EventPort:
			if ev.Protocol == "tcp" {
				if open[h] == nil {
					open[h] = map[int]bool{}
				}
				open[h][ev.Port] = true
			}
		case scan.EventService:
			services[portKey{h, ev.Port, ev.Protocol}] = ev.Service
		case scan.EventHostUnreliable, scan.EventError:
			t.Errorf("%s: %s %s", ev.Type, h, ev.Message)
		}
	}
	after := kernelPorts(t, hosts)
	// Exactly the kernel's listening sockets: every port listening before and
	// after the scan was found, and nothing that never listened.
	for _, h := range hosts {
		if !up[h] {
			t.Errorf("%s not up", h)
		}
		for p := range before[h] {
			if after[h][p] && !open[h][p] {
				t.Errorf("%s:%d listens but was not found open", h, p)
			}
		}
		for p := range open[h] {
			// Other packages' tests open and close listeners on ephemeral
			// ports of 127.0.0.1 while this scan runs: such a port may have
			// listened only in between the two snapshots.
			if !before[h][p] && !after[h][p] && !ephemeral(t, p) {
				t.Errorf("%s:%d reported open but never listened", h, p)
			}
		}
	}
	for _, want := range tb.Services {
		got := services[portKey{want.Host, want.Port, want.Proto}]
		if got == nil {
			t.Errorf("%s:%d/%s: no service", want.Host, want.Port, want.Proto)
			continue
		}
		if got.Name != want.Name || (want.Product != "" && got.Product != want.Product) {
			t.Errorf("%s:%d/%s: got %s %q %q, want %s %q", want.Host, want.Port, want.Proto, got.Name, got.Product, got.Version, want.Name, want.Product)
		}
	}
	// The machine's own services on 127.0.0.1 (started by the CI image).
	for port, want := range map[int][2]string{3306: {"mysql", "MariaDB"}, 5432: {"postgresql", "PostgreSQL DB"}, 6379: {"redis", "Redis key-value store"},
		5672: {"amqp", "RabbitMQ"}, 1883: {"mqtt", ""}, 4222: {"nats", "NATS Server"}} {
		if !open["127.0.0.1"][port] {
			continue
		}
		got := services[portKey{"127.0.0.1", port, "tcp"}]
		if got == nil || got.Name != want[0] || (want[1] != "" && got.Product != want[1]) {
			t.Errorf("127.0.0.1:%d: got %+v, want %v", port, got, want)
		}
	}
	var lines []string
	for k, s := range services {
		lines = append(lines, fmt.Sprintf("%s:%d/%s %s %s %s", k.host, k.port, k.proto, s.Name, s.Product, s.Version))
	}
	sort.Strings(lines)
	t.Logf("services:\n%s", strings.Join(lines, "\n"))
}

// ephemeral reports whether port is in the kernel's ephemeral port range.
func ephemeral(t *testing.T, port int) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Fatal(err)
	}
	var lo, hi int
	fmt.Sscan(string(b), &lo, &hi)
	return port >= lo && port <= hi
}

func kernelPorts(t *testing.T, hosts []string) map[string]map[int]bool {
	out := map[string]map[int]bool{}
	for _, h := range hosts {
		ports, err := testbed.OpenTCPPorts(h)
		if err != nil {
			t.Fatal(err)
		}
		out[h] = ports
	}
	return out
}

var _ = vigil.AliveConsiderAlive
