package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
	"github.com/vigilscan/vigil/scan/fingerprint"
)

// ScanCmd scans from the command line, like nmap.
type ScanCmd struct {
	Targets         []string      `arg:"" help:"Hosts: addresses, CIDRs, ranges (192.0.2.1-20), hostnames."`
	Ports           string        `short:"p" help:"Ports: '1-1024,8080,U:53' or a built-in list (common-tcp, all-tcp, web, all-tcp-common-udp, pci-external)." default:"common-tcp"`
	Exclude         string        `help:"Hosts to leave out (same syntax)."`
	Alive           string        `help:"Alive test." default:"scan_config_default" enum:"scan_config_default,icmp,tcp_syn,consider_alive"`
	Mode            string        `help:"TCP scanner: auto, connect, syn." default:"auto" enum:"auto,connect,syn"`
	Service         bool          `short:"s" help:"Detect services and versions on open ports (like nmap -sV)."`
	Fingerprints    string        `help:"Directory of Rapid7 Recog XML fingerprints to widen service detection." type:"existingdir" placeholder:"DIR"`
	Output          string        `short:"o" help:"Output format." default:"table" enum:"table,json,xml"`
	Allow           string        `help:"Scope guard: only these CIDRs may be probed; anything else is refused before a packet leaves." env:"VIGIL_SCAN_ALLOW" placeholder:"CIDRS"`
	Rate            int           `help:"Probes per second for the whole scan (0: no limit)." default:"5000"`
	MaxHosts        int           `help:"Hosts scanned in parallel." default:"32"`
	MaxConnsPerHost int           `help:"Probes in flight per host." default:"512"`
	Timeout         time.Duration `help:"Probe timeout before round trips are measured." default:"1s"`
	Retries         int           `help:"Retransmissions of unanswered probes." default:"1"`
	HostTimeout     time.Duration `help:"Give up on a host after this long (0: never)." default:"0"`
	NoProgress      bool          `help:"No progress lines on stderr."`
}

// Run runs the scan and renders its events.
func (c *ScanCmd) Run(ctx context.Context, g *Globals) error {
	cfg := scan.DefaultConfig()
	cfg.Hosts = strings.Join(c.Targets, ",")
	cfg.ExcludeHosts, cfg.Ports, cfg.AliveTest, cfg.Mode = c.Exclude, c.Ports, vigil.AliveTest(c.Alive), scan.Mode(c.Mode)
	cfg.Rate, cfg.MaxHosts, cfg.MaxConnsPerHost = c.Rate, c.MaxHosts, c.MaxConnsPerHost
	cfg.InitialTimeout, cfg.Retries, cfg.HostTimeout = c.Timeout, c.Retries, c.HostTimeout
	if c.NoProgress || c.Output == "json" {
		cfg.ProgressEvery = 0
	}
	scope, err := scan.ParseScope(c.Allow)
	if err != nil {
		return err
	}
	cfg.Scope = scope
	if c.Service {
		var opts []fingerprint.Option
		if c.Fingerprints != "" {
			db, err := fingerprint.LoadRecog(c.Fingerprints)
			if err != nil {
				return err
			}
			g.Log.Debug("recog fingerprints loaded", "count", db.Count(), "skipped", db.Skipped)
			opts = append(opts, fingerprint.WithRecog(db))
		}
		cfg.ServiceDetection = true
		cfg.DetectService = fingerprint.New(opts...).Detect
	}
	s, err := scan.New(cfg)
	if err != nil {
		return err
	}
	var r renderer
	switch c.Output {
	case "json":
		r = &jsonRenderer{w: g.Stdout}
	case "xml":
		r = newXMLRenderer(g.Stdout, "vigil scan "+strings.Join(os.Args[min(2, len(os.Args)):], " "))
	default:
		r = &tableRenderer{w: g.Stdout, hosts: map[string]*hostResult{}}
	}
	stderr := g.Stderr
	refused := 0
	for ev := range s.Run(ctx) {
		if ev.Type == scan.EventRefused {
			refused++
		}
		if ev.Type == scan.EventProgress && !c.NoProgress {
			p := ev.Progress
			fmt.Fprintf(stderr, "progress: %d/%d hosts (%.1f%%), %d up, %d probes\n", p.HostsDone, p.HostsTotal, p.Percent, p.HostsUp, p.ProbesSent)
		}
		if (ev.Type == scan.EventWarning || ev.Type == scan.EventRefused || ev.Type == scan.EventError) && c.Output != "json" {
			fmt.Fprintf(stderr, "%s: %s %s\n", ev.Type, hostLabel(ev), ev.Message)
		}
		if err := r.event(ev); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("scan cancelled")
	}
	if refused > 0 {
		// The results of the other targets are out; the exit status tells
		// scripts that part of the request was not carried out.
		return fmt.Errorf("%d target address(es) refused: outside the scan scope (--allow / VIGIL_SCAN_ALLOW)", refused)
	}
	return nil
}

func hostLabel(ev scan.Event) string {
	switch {
	case ev.Hostname != "" && ev.Host.IsValid():
		return ev.Hostname + " (" + ev.Host.String() + ")"
	case ev.Hostname != "":
		return ev.Hostname
	case ev.Host.IsValid():
		return ev.Host.String()
	}
	return ""
}
