package bench

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/fingerprint"
	"github.com/vigilscan/vigil/testbed"
)

// sweepHost is the loopback host of the full-port sweep; sweepPorts are its listeners.
const sweepHost = "127.0.2.1"

var sweepPorts = []int{21, 22, 25, 53, 80, 110, 143, 443, 993, 995, 1433, 3306, 3389, 5432, 5900, 6379, 8080, 8443, 9200, 27017}

func needNmap(b *testing.B) {
	if _, err := exec.LookPath("nmap"); err != nil {
		b.Skip("nmap is not installed (apt-get install nmap)")
	}
}

// nmapRun is the part of nmap's XML output the comparison reads.
type nmapRun struct {
	Hosts []struct {
		Address struct {
			Addr string `xml:"addr,attr"`
		} `xml:"address"`
		Ports []struct {
			Protocol string `xml:"protocol,attr"`
			PortID   int    `xml:"portid,attr"`
			State    struct {
				State string `xml:"state,attr"`
			} `xml:"state"`
			Service struct {
				Name    string `xml:"name,attr"`
				Product string `xml:"product,attr"`
				Version string `xml:"version,attr"`
				Tunnel  string `xml:"tunnel,attr"`
			} `xml:"service"`
		} `xml:"ports>port"`
	} `xml:"host"`
}

func runNmap(b *testing.B, args ...string) (*nmapRun, time.Duration) {
	start := time.Now()
	out, err := exec.Command("nmap", append(args, "-oX", "-")...).Output()
	d := time.Since(start)
	if err != nil {
		b.Fatalf("nmap %v: %v", args, err)
	}
	var r nmapRun
	if err := xml.Unmarshal(out, &r); err != nil {
		b.Fatal(err)
	}
	return &r, d
}

func runVigil(b *testing.B, cfg scan.Config) ([]scan.Event, time.Duration) {
	cfg.Scope, _ = scan.ParseScope("127.0.0.0/8")
	s, err := scan.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	var evs []scan.Event
	for ev := range s.Run(context.Background()) {
		if ev.Type == scan.EventPort || ev.Type == scan.EventService {
			evs = append(evs, ev)
		}
	}
	return evs, time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// BenchmarkSweepVsNmap scans all 65,535 TCP ports of one loopback host with
// 20 listeners, in connect mode against `nmap -sT -T4 -p-` and, as root, in
// SYN mode against `nmap -sS -T4 -p-`: a warm-up run and five measured runs
// of each, alternating, and compares the median times and the open-port sets.
func BenchmarkSweepVsNmap(b *testing.B) {
	needNmap(b)
	for _, p := range sweepPorts {
		ln, err := testbed.AcceptAndClose(sweepHost, p)
		if err != nil {
			b.Skipf("cannot listen on %s:%d (root needed for low ports): %v", sweepHost, p, err)
		}
		defer ln.Close()
	}
	type mode struct {
		vigil scan.Mode
		nmap  string
	}
	modes := []mode{{scan.ModeConnect, "-sT"}}
	if os.Geteuid() == 0 {
		modes = append(modes, mode{scan.ModeSYN, "-sS"})
	} else {
		fmt.Println("SYN mode: not compared (needs root)")
	}
	const runs = 5
	for b.Loop() {
		for _, m := range modes {
			var vt, nt []time.Duration
			var vOpen, nOpen string
			for i := -1; i < runs; i++ { // run -1 warms both up and is not counted
				cfg := scan.DefaultConfig()
				cfg.Hosts, cfg.Ports, cfg.Rate, cfg.ProgressEvery, cfg.AliveTest = sweepHost, "1-65535", 0, 0, vigil.AliveConsiderAlive
				cfg.Mode = m.vigil
				evs, d := runVigil(b, cfg)
				vOpen = fmt.Sprint(openPortsOf(evs))
				r, nd := runNmap(b, m.nmap, "-T4", "-p-", "-n", "-Pn", sweepHost)
				if i >= 0 {
					vt, nt = append(vt, d), append(nt, nd)
				}
				var nopen []int
				for _, h := range r.Hosts {
					for _, p := range h.Ports {
						if p.State.State == "open" {
							nopen = append(nopen, p.PortID)
						}
					}
				}
				sort.Ints(nopen)
				nOpen = fmt.Sprint(nopen)
			}
			v, n := median(vt), median(nt)
			b.ReportMetric(v.Seconds(), string(m.vigil)+"-vigil-s")
			b.ReportMetric(n.Seconds(), string(m.vigil)+"-nmap-s")
			b.ReportMetric(n.Seconds()/v.Seconds(), string(m.vigil)+"-speedup")
			same := "same"
			if vOpen != nOpen {
				same = "DIFFERENT: vigil " + vOpen + " nmap " + nOpen
			}
			msg := fmt.Sprintf("full TCP sweep of %s (65,535 ports, %d listeners), median of %d runs:\n  vigil %s %v   nmap %s -T4 -p- %v   speedup %.2fx   open ports: %s\n",
				sweepHost, len(sweepPorts), runs, m.vigil, v.Round(time.Millisecond), m.nmap, n.Round(time.Millisecond), n.Seconds()/v.Seconds(), same)
			b.Log(msg)
			fmt.Print(msg)
		}
	}
}

func openPortsOf(evs []scan.Event) []int {
	var open []int
	for _, ev := range evs {
		if ev.Type == scan.EventPort {
			open = append(open, ev.Port)
		}
	}
	sort.Ints(open)
	return open
}

// BenchmarkServiceDetectionVsNmap runs service detection on the testbed's
// open ports with Vigil and with `nmap -sV`, and compares time and the
// service name and product per port.
func BenchmarkServiceDetectionVsNmap(b *testing.B) {
	needNmap(b)
	if os.Geteuid() != 0 || len(testbed.Missing()) > 0 {
		b.Skip("the testbed needs root and its packages")
	}
	tb, err := testbed.Start(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer tb.Stop()
	// Compare on the packaged daemons only: the Go stand-ins on GoHost
	// imitate a first exchange, not a whole server, and nmap's probes would
	// measure the imitation.
	ports := map[int]bool{}
	var hosts []string
	for _, s := range tb.Services {
		if s.Proto == "tcp" && s.Host != testbed.GoHost {
			ports[s.Port] = true
			if !slices.Contains(hosts, s.Host) {
				hosts = append(hosts, s.Host)
			}
		}
	}
	var pl []string
	for p := range ports {
		pl = append(pl, strconv.Itoa(p))
	}
	sort.Strings(pl)
	var vd, nd time.Duration
	var vEvs []scan.Event
	var nr *nmapRun
	opts := []fingerprint.Option{}
	if dir := os.Getenv("VIGIL_TESTDATA"); dir != "" {
		if db, err := fingerprint.LoadRecog(dir + "/vulndb/recog"); err == nil {
			opts = append(opts, fingerprint.WithRecog(db))
		}
	}
	for b.Loop() {
		cfg := scan.DefaultConfig()
		cfg.Hosts, cfg.Ports, cfg.Rate, cfg.ProgressEvery, cfg.AliveTest = strings.Join(hosts, ","), strings.Join(pl, ","), 0, 0, vigil.AliveConsiderAlive
		cfg.ServiceDetection, cfg.DetectService = true, fingerprint.New(opts...).Detect
		vEvs, vd = runVigil(b, cfg)
		nr, nd = runNmap(b, append([]string{"-sV", "-T4", "-n", "-Pn", "-p", strings.Join(pl, ",")}, hosts...)...)
	}
	type key struct {
		host string
		port int
	}
	ours := map[key]*scan.Service{}
	for _, ev := range vEvs {
		if ev.Type == scan.EventService {
			ours[key{ev.Host.String(), ev.Port}] = ev.Service
		}
	}
	var agree, total int
	var rows []string
	for _, h := range nr.Hosts {
		for _, p := range h.Ports {
			if p.State.State != "open" {
				continue
			}
			total++
			s := ours[key{h.Address.Addr, p.PortID}]
			ok := s != nil && sameService(s, p.Service.Name, p.Service.Product)
			if ok {
				agree++
			}
			ourName, ourProduct := "-", ""
			if s != nil {
				ourName, ourProduct = s.Name, s.Product
			}
			rows = append(rows, fmt.Sprintf("  %-9s %5d  vigil %-14s %-24q nmap %-4s%-14s %-24q %v", h.Address.Addr, p.PortID, ourName, ourProduct, p.Service.Tunnel, p.Service.Name, p.Service.Product, ok))
		}
	}
	sort.Strings(rows)
	pct := 100 * float64(agree) / float64(max(total, 1))
	b.ReportMetric(vd.Seconds(), "vigil-s")
	b.ReportMetric(nd.Seconds(), "nmap-s")
	b.ReportMetric(vd.Seconds()/nd.Seconds(), "time-ratio")
	b.ReportMetric(pct, "agreement-%")
	msg := fmt.Sprintf("\nservice detection on %d testbed hosts, %d open ports:\n  vigil %v   nmap -sV %v   vigil/nmap time %.2f   agreement %d/%d (%.1f%%)\n%s\n",
		len(hosts), total, vd.Round(time.Millisecond), nd.Round(time.Millisecond), vd.Seconds()/nd.Seconds(), agree, total, pct, strings.Join(rows, "\n"))
	b.Log(msg)
	fmt.Print(msg)
}

// sameService compares our answer with nmap's: the same service (nmap
// writes https as http over an ssl tunnel) and, when both name one, the
// same product.
func sameService(s *scan.Service, name, product string) bool {
	ours := scan.PlainName(s.Name)
	// nmap's names for the same services.
	aliases := map[string]string{"elasticsearch": "http", "mongodb": "mongod"}
	if a, ok := aliases[ours]; ok && a == name {
		ours = name
	}
	if ours != name {
		return false
	}
	if s.Product == "" || product == "" {
		return true
	}
	p, q := strings.ToLower(s.Product), strings.ToLower(product)
	first := func(x string) string { return strings.Fields(x)[0] }
	return strings.Contains(p, first(q)) || strings.Contains(q, first(p)) || (p == "mariadb" && strings.Contains(q, "mysql"))
}

// BenchmarkSweepMemory sweeps 100 ports of 127.0.0.0/20 (4,096 hosts) and
// then of 127.0.0.0/16 (65,536 hosts) and samples the heap: the engine's
// memory must not grow with hosts × ports. Events are counted and dropped,
// as a consumer that persists them would.
func BenchmarkSweepMemory(b *testing.B) {
	for b.Loop() {
		var peaks []uint64
		for _, hosts := range []string{"127.0.0.0/20", "127.0.0.0/16"} {
			runtime.GC()
			var peak atomic.Uint64
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var ms runtime.MemStats
				t := time.NewTicker(20 * time.Millisecond)
				defer t.Stop()
				for {
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.Load() {
						peak.Store(ms.HeapInuse)
					}
					select {
					case <-stop:
						return
					case <-t.C:
					}
				}
			}()
			cfg := scan.DefaultConfig()
			cfg.Hosts, cfg.Ports, cfg.Rate, cfg.ProgressEvery, cfg.AliveTest = hosts, "1-100", 0, 0, vigil.AliveConsiderAlive
			cfg.Scope, _ = scan.ParseScope("127.0.0.0/8")
			s, err := scan.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			var events, open int
			var probes int64
			mode := "connect"
			for ev := range s.Run(context.Background()) {
				events++
				switch ev.Type {
				case scan.EventPort:
					open++
				case scan.EventScanStart:
					if strings.Contains(ev.Message, "syn scan") {
						mode = "syn"
					}
				case scan.EventScanDone:
					probes = ev.Progress.ProbesSent
				}
			}
			d := time.Since(start)
			close(stop)
			<-sampled
			peaks = append(peaks, peak.Load())
			msg := fmt.Sprintf("sweep of ports 1-100 on %s (%s): %d probes in %v (%.0f/s), %d events, %d open; peak heap in use %.1f MiB\n",
				hosts, mode, probes, d.Round(time.Millisecond), float64(probes)/d.Seconds(), events, open, float64(peak.Load())/(1<<20))
			b.Log(msg)
			fmt.Print(msg)
		}
		ratio := float64(peaks[1]) / float64(peaks[0])
		b.ReportMetric(float64(peaks[1])/(1<<20), "peak-MiB-/16")
		b.ReportMetric(ratio, "peak-/16-over-/20")
		fmt.Printf("16x the hosts: peak heap x%.2f\n", ratio)
	}
}
