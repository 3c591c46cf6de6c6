// Package node is a scanner node: it claims runs from a vigil.RunQueue,
// executes them with the scan engine, streams what it finds to a
// vigil.ResultSink in batches, renews its lease by heartbeat (which is also
// how it learns of a stop request) and finishes each run. The in-process
// node of `vigil serve` and remote nodes share it; only their queue and sink
// differ (the store directly, or the API over HTTPS).
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilscan/vigil"
	"github.com/vigilscan/vigil/scan"
)

// Config configures a node.
type Config struct {
	ID          string        // unique per node process
	Kind        string        // the kind of scanner it serves ("local")
	Concurrency int           // runs at once
	Lease       time.Duration // a run is interrupted when the node is silent this long
	Heartbeat   time.Duration // how often the node renews its lease and checks for a stop
	Poll        time.Duration // how often an idle node looks for work without being woken
	FlushEvery  time.Duration // results are written at least this often
	FlushSize   int           // or as soon as this many are waiting
	// Engine turns a run's config into the engine's; it adds what the node
	// decides (scope guard, service detector, rates).
	Engine func(vigil.RunConfig) (scan.Config, error)
	Log    *slog.Logger
}

// DefaultConfig has the defaults: 2 runs at once, 30 s lease, 1 s heartbeat.
func DefaultConfig() Config {
	return Config{Kind: "local", Concurrency: 2, Lease: 30 * time.Second, Heartbeat: time.Second, Poll: 2 * time.Second,
		FlushEvery: 500 * time.Millisecond, FlushSize: 1000}
}

// Node executes runs.
type Node struct {
	cfg   Config
	queue vigil.RunQueue
	sink  vigil.ResultSink
	wake  chan struct{}
}

// New returns a node; Run starts it.
func New(cfg Config, q vigil.RunQueue, sink vigil.ResultSink) *Node {
	d := DefaultConfig()
	if cfg.Kind == "" {
		cfg.Kind = d.Kind
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = d.Concurrency
	}
	if cfg.Lease <= 0 {
		cfg.Lease = d.Lease
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = min(d.Heartbeat, cfg.Lease/3)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = d.Poll
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = d.FlushEvery
	}
	if cfg.FlushSize <= 0 {
		cfg.FlushSize = d.FlushSize
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.ID == "" {
		cfg.ID = cfg.Kind + "-" + vigil.NewID()
	}
	return &Node{cfg: cfg, queue: q, sink: sink, wake: make(chan struct{}, 1)}
}

// ID is the node's id.
func (n *Node) ID() string { return n.cfg.ID }

// Wake tells an idle node that a run may be waiting (a scan was started).
func (n *Node) Wake() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Run claims and executes runs until ctx ends. Runs in progress then end
// Interrupted with their results so far.
func (n *Node) Run(ctx context.Context) {
	slots := make(chan struct{}, n.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	poll := time.NewTicker(n.cfg.Poll)
	defer poll.Stop()
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		run, rc, err := n.queue.ClaimRun(ctx, n.cfg.Kind, n.cfg.ID, n.cfg.Lease)
		if err != nil && ctx.Err() == nil {
			n.cfg.Log.Error("claim run", "err", err)
		}
		if run == nil {
			<-slots
			select {
			case <-n.wake:
			case <-poll.C:
			case <-ctx.Done():
				return
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			n.execute(ctx, run, rc)
		}()
	}
}

// Why a run's context was cancelled.
var (
	errStopRequested = errors.New("stop requested")
	errLeaseLost     = errors.New("lease lost")
	errSinkFailed    = errors.New("results could not be stored")
)

// execute runs one claimed run to its end.
func (n *Node) execute(ctx context.Context, run *vigil.Run, rc *vigil.RunConfig) {
	log := n.cfg.Log.With("run", run.ID, "scan", run.ScanID)
	log.Info("run started", "hosts", rc.Hosts, "profile", rc.Profile)
	// Writes that end the run must outlive a shutting-down parent.
	finish := func(status vigil.ScanStatus, reason string) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := n.queue.FinishRun(fctx, run.ID, n.cfg.ID, status, reason); err != nil {
			log.Error("finish run", "status", status, "err", err)
			return
		}
		log.Info("run ended", "status", status, "reason", reason)
	}
	scfg, err := n.cfg.Engine(*rc)
	if err != nil {
		finish(vigil.StatusFailed, err.Error())
		return
	}
	sc, err := scan.New(scfg)
	if err != nil {
		finish(vigil.StatusFailed, err.Error())
		return
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &runner{n: n, run: run, log: log, hosts: map[netip.Addr]vigil.HostResult{}, now: scfg.Now}
	if r.now == nil {
		r.now = time.Now
	}
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		r.heartbeat(runCtx, cancel)
	}()

	flush := time.NewTicker(n.cfg.FlushEvery)
	defer flush.Stop()
	events := sc.Run(runCtx)
	for open := true; open; {
		select {
		case ev, ok := <-events:
			if !ok {
				open = false
				break
			}
			r.handle(ev)
			if r.batch.Len() >= n.cfg.FlushSize {
				r.flush(runCtx, cancel)
			}
		case <-flush.C:
			r.flush(runCtx, cancel)
		}
	}
	// The engine stopped (finished or cancelled): the results it reported
	// are written even when the run was cancelled.
	r.flush(context.WithoutCancel(runCtx), cancel)
	cancel(nil)
	<-hbDone

	switch cause := context.Cause(runCtx); {
	case errors.Is(cause, errLeaseLost):
		log.Warn("run abandoned: the node no longer holds it")
	case errors.Is(cause, errSinkFailed):
		finish(vigil.StatusFailed, r.sinkErr)
	case errors.Is(cause, errStopRequested):
		finish(vigil.StatusStopped, "stopped by request")
	case ctx.Err() != nil:
		finish(vigil.StatusInterrupted, "the scanner node shut down; results so far are kept")
	case r.refused > 0 && r.seen == 0:
		finish(vigil.StatusFailed, fmt.Sprintf("every target address (%d) is outside the scanner's scope (--scan-allow); nothing was sent", r.refused))
	case r.refused > 0:
		finish(vigil.StatusDone, fmt.Sprintf("%d target addresses outside the scanner's scope (--scan-allow) were not scanned", r.refused))
	default:
		finish(vigil.StatusDone, "")
	}
}

// runner is the state of one run in progress.
type runner struct {
	n       *Node
	run     *vigil.Run
	log     *slog.Logger
	now     func() time.Time
	batch   vigil.ResultBatch
	hosts   map[netip.Addr]vigil.HostResult // live hosts not yet done
	sinkErr string
	refused int // addresses the scope guard refused
	seen    int // hosts found up or down

	total, done, up atomic.Int64
	percent         atomic.Int64
}

// handle turns an engine event into results.
func (r *runner) handle(ev scan.Event) {
	b := &r.batch
	switch ev.Type {
	case scan.EventScanStart, scan.EventProgress:
		if p := ev.Progress; p != nil {
			r.total.Store(p.HostsTotal)
			r.done.Store(p.HostsDone)
			r.up.Store(p.HostsUp)
			r.percent.Store(int64(p.Percent))
		}
	case scan.EventHostDown:
		r.seen++
	case scan.EventHostUp:
		r.seen++
		h := vigil.HostResult{Address: ev.Host, Hostname: ev.Hostname, Status: "up", Reason: ev.Reason}
		r.hosts[ev.Host] = h
		b.Hosts = append(b.Hosts, h)
	case scan.EventHostUnreliable:
		h := r.hosts[ev.Host]
		h.Address, h.Status, h.Reason = ev.Host, "unreliable", ev.Message
		r.hosts[ev.Host] = h
		b.Hosts = append(b.Hosts, h)
	case scan.EventPort:
		b.Ports = append(b.Ports, vigil.PortResult{Address: ev.Host, Port: ev.Port, Protocol: ev.Protocol, State: string(ev.State), Reason: ev.Reason})
		if ev.State == scan.StateOpen {
			b.Findings = append(b.Findings, scan.OpenPortFinding(ev.Host, ev.Port, ev.Protocol, ev.State, ev.Reason, nil))
		}
	case scan.EventService:
		svc := ev.Service
		if svc == nil {
			return
		}
		p := vigil.PortResult{Address: ev.Host, Port: ev.Port, Protocol: ev.Protocol, Service: svc.Name, Product: svc.Product,
			Version: svc.Version, ExtraInfo: svc.ExtraInfo, CPE: svc.CPE, Banner: svc.Banner, Method: svc.Method, Confidence: svc.Confidence}
		if p.Method == "" {
			p.Method = "unknown"
		}
		if svc.TLS != nil {
			js, _ := json.Marshal(svc.TLS)
			p.TLS = string(js)
		}
		b.Ports = append(b.Ports, p)
		b.Findings = append(b.Findings, scan.OpenPortFinding(ev.Host, ev.Port, ev.Protocol, scan.StateOpen, "", svc))
		b.Findings = append(b.Findings, scan.ServiceFindings(ev.Host, ev.Port, ev.Protocol, svc, r.now())...)
		if os := scan.OSHint(svc); os != "" {
			if h, ok := r.hosts[ev.Host]; ok && h.OS == "" {
				h.OS = os
				r.hosts[ev.Host] = h
				b.Hosts = append(b.Hosts, h)
			}
		}
	case scan.EventFinding:
		if ev.Finding != nil {
			b.Findings = append(b.Findings, *ev.Finding)
		}
	case scan.EventHostDone:
		h, ok := r.hosts[ev.Host]
		if !ok {
			return // a host that was down: nothing of it is stored
		}
		delete(r.hosts, ev.Host)
		h.Done = true
		if ev.Summary != nil {
			h.Open = ev.Summary.Open + ev.Summary.OpenFiltered
		}
		b.Hosts = append(b.Hosts, h)
	case scan.EventRefused:
		r.refused++
		r.log.Warn("target refused by the scope guard", "host", ev.Host, "message", ev.Message)
	case scan.EventWarning:
		r.log.Warn("engine", "message", ev.Message)
	case scan.EventError:
		r.log.Error("engine", "host", ev.Host, "message", ev.Message)
	}
}

// flush writes the waiting results. A run the node lost, or a sink that
// keeps failing, cancels the run.
func (r *runner) flush(ctx context.Context, cancel context.CancelCauseFunc) {
	if r.batch.Len() == 0 {
		return
	}
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return // cancelled: the final flush writes the batch
		}
		if err = r.n.sink.RecordResults(ctx, r.run.ID, r.n.cfg.ID, &r.batch); err == nil {
			r.batch = vigil.ResultBatch{}
			return
		}
		if vigil.ErrorCode(err) == vigil.ECONFLICT {
			cancel(errLeaseLost)
			return
		}
		r.log.Warn("store results", "attempt", attempt+1, "err", err)
	}
	r.sinkErr = fmt.Sprintf("could not store results: %v", err)
	cancel(errSinkFailed)
}

// heartbeat renews the lease until ctx ends; a stop request or a lost lease
// cancels the run.
func (r *runner) heartbeat(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(r.n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p := vigil.RunProgress{Progress: int(r.percent.Load()), HostsTotal: int(r.total.Load()), HostsDone: int(r.done.Load()),
			HostsUp: int(r.up.Load())}
		stop, err := r.n.queue.HeartbeatRun(ctx, r.run.ID, r.n.cfg.ID, p, r.n.cfg.Lease)
		switch {
		case err != nil && vigil.ErrorCode(err) == vigil.ECONFLICT:
			cancel(errLeaseLost)
			return
		case err != nil:
			if ctx.Err() == nil {
				r.log.Warn("heartbeat", "err", err)
			}
		case stop:
			r.log.Info("stop requested")
			cancel(errStopRequested)
			return
		}
	}
}
