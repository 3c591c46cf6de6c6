package scan

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/testbed"
)

// childEnv carries a scan for TestMain to run as a child process inside a
// network namespace: Go threads cannot be moved into a namespace safely, so
// the scanning side is this test binary re-executed with `ip netns exec`.
const childEnv = "VIGIL_TEST_NETNS_SCAN"

type childScan struct {
	Hosts, Ports, Scope string
	Alive               vigil.AliveTest
	Mode                Mode
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChildScan(spec))
	}
	os.Exit(m.Run())
}

// runChildScan runs the scan and writes its events as JSON lines.
func runChildScan(spec string) int {
	var c childScan
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := DefaultConfig()
	cfg.Hosts, cfg.Ports, cfg.AliveTest, cfg.Mode, cfg.ProgressEvery = c.Hosts, c.Ports, c.Alive, c.Mode, 0
	cfg.InitialTimeout, cfg.MaxTimeout, cfg.Retries = 300*time.Millisecond, 300*time.Millisecond, 1
	var err error
	if cfg.Scope, err = ParseScope(c.Scope); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	s, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	enc := json.NewEncoder(os.Stdout)
	for ev := range s.Run(ctx) {
		_ = enc.Encode(ev)
	}
	return 0
}

// TestNetnsDiscovery scans hosts of a namespace network from inside its
// scanner namespace: a host namespace is up, an address nothing holds is
// down (with the reason) under icmp and tcp_syn, and both are up under
// consider_alive. The scope guard is exactly the scanned addresses.
func TestNetnsDiscovery(t *testing.T) {
	testbed.RequireNetns(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nt, err := testbed.StartNetns(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer nt.Stop()
	up, down := nt.Up[0].String(), nt.Down[0].String()
	scope := up + "/32," + down + "/32"
	for _, c := range []struct {
		alive vigil.AliveTest
		mode  Mode
		want  map[string]EventType
	}{
		{vigil.AliveICMP, ModeSYN, map[string]EventType{up: EventHostUp, down: EventHostDown}},
		{vigil.AliveTCPSYN, ModeSYN, map[string]EventType{up: EventHostUp, down: EventHostDown}},
		{vigil.AliveTCPSYN, ModeConnect, map[string]EventType{up: EventHostUp, down: EventHostDown}},
		{vigil.AliveScanConfigDefault, ModeSYN, map[string]EventType{up: EventHostUp, down: EventHostDown}},
		{vigil.AliveConsiderAlive, ModeSYN, map[string]EventType{up: EventHostUp, down: EventHostUp}},
	} {
		t.Run(string(c.alive)+"/"+string(c.mode), func(t *testing.T) {
			spec, _ := json.Marshal(childScan{Hosts: up + "," + down, Ports: "22,80", Scope: scope, Alive: c.alive, Mode: c.mode})
			cmd := nt.Command(ctx, os.Args[0])
			cmd.Env = append(os.Environ(), childEnv+"="+string(spec), "VIGIL_SCAN_ALLOW="+scope)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			got := map[string]EventType{}
			reasons := map[string]string{}
			closed := map[string]int{}
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				var ev Event
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("%v: %s", err, sc.Text())
				}
				switch ev.Type {
				case EventHostUp, EventHostDown:
					got[ev.Host.String()], reasons[ev.Host.String()] = ev.Type, ev.Reason
				case EventHostDone:
					closed[ev.Host.String()] = ev.Summary.Closed
				case EventRefused, EventError:
					t.Errorf("unexpected %s: %+v", ev.Type, ev)
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("child scan: %v\n%s", err, stderr.String())
			}
			for host, want := range c.want {
				if got[host] != want {
					t.Errorf("%s: %s (%s), want %s", host, got[host], reasons[host], want)
				}
				if want == EventHostDown && !strings.Contains(reasons[host], "no-response") {
					t.Errorf("%s: down without a reason: %q", host, reasons[host])
				}
			}
			// The live host has nothing listening: both ports reset.
			if closed[up] != 2 {
				t.Errorf("%s: %d closed ports, want 2", up, closed[up])
			}
			if c.alive == vigil.AliveConsiderAlive && closed[down] != 0 {
				t.Errorf("%s: closed ports on an address nothing holds", down)
			}
		})
	}
}
