// Package jobs runs Vigil's background work on River: message delivery now,
// webhooks, reports and schedules later. Rows in Vigil's own tables are the
// source of truth; a job only carries an id, and a periodic reconciler
// enqueues whatever a crash between commit and enqueue left behind.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// DeliverMessage delivers one stored e-mail or SMS.
type DeliverMessage struct {
	MessageID string `json:"message_id"`
}

// Kind names the job.
func (DeliverMessage) Kind() string { return "deliver_message" }

// InsertOpts: at most one pending delivery job per message.
func (DeliverMessage) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MessageAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// MessageAttempts is how often a message delivery is tried.
const MessageAttempts = 6

// reconcileMessages enqueues messages left queued without a job.
type reconcileMessages struct{}

func (reconcileMessages) Kind() string { return "reconcile_messages" }

// Deliverer sends a stored message; final marks the last attempt.
type Deliverer interface {
	Deliver(ctx context.Context, id string, final bool) error
}

// QueuedLister finds messages still queued.
type QueuedLister interface {
	QueuedMessages(ctx context.Context, cutoff time.Time, limit int) ([]string, error)
}

// Config configures the runner.
type Config struct {
	Messages Deliverer
	Queued   QueuedLister
	Log      *slog.Logger
	// Backoff returns the delay before retry n (1-based); nil: River's default
	// (attempt^4 seconds).
	Backoff func(attempt int) time.Duration
	// PollInterval is how often workers look for jobs (SQLite has no LISTEN).
	PollInterval time.Duration
}

// Runner is a started River client of either database.
type Runner struct {
	insert func(ctx context.Context, args river.JobArgs) error
	stop   func(ctx context.Context) error
}

// EnqueueMessage schedules delivery of a stored message.
func (r *Runner) EnqueueMessage(ctx context.Context, id string) error {
	return r.insert(ctx, DeliverMessage{MessageID: id})
}

// Stop waits for running jobs (bounded by ctx).
func (r *Runner) Stop(ctx context.Context) error { return r.stop(ctx) }

// StartSQLite migrates River's tables in db and starts workers on it.
func StartSQLite(ctx context.Context, db *sql.DB, cfg Config) (*Runner, error) {
	return start(ctx, riversqlite.New(db), cfg)
}

// StartPostgres migrates River's tables and starts workers on a pool of
// its own to dsn (River needs pgx's native interface); Stop closes it.
func StartPostgres(ctx context.Context, dsn string, cfg Config) (*Runner, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	r, err := start(ctx, riverpgxv5.New(pool), cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	stop := r.stop
	r.stop = func(ctx context.Context) error {
		defer pool.Close()
		return stop(ctx)
	}
	return r, nil
}

type messageWorker struct {
	river.WorkerDefaults[DeliverMessage]
	d Deliverer
}

func (w *messageWorker) Work(ctx context.Context, job *river.Job[DeliverMessage]) error {
	return w.d.Deliver(ctx, job.Args.MessageID, job.Attempt >= job.MaxAttempts)
}

func (w *messageWorker) Timeout(*river.Job[DeliverMessage]) time.Duration { return time.Minute }

type reconcileWorker struct {
	river.WorkerDefaults[reconcileMessages]
	q      QueuedLister
	insert func(ctx context.Context, args river.JobArgs) error
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[reconcileMessages]) error {
	ids, err := w.q.QueuedMessages(ctx, time.Now().Add(-time.Minute), 1000)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.insert(ctx, DeliverMessage{MessageID: id}); err != nil {
			return err
		}
	}
	return nil
}

type backoffPolicy struct{ f func(int) time.Duration }

func (p backoffPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.f(job.Attempt))
}

func start[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], cfg Config) (*Runner, error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: quiet(cfg.Log)})
	if err != nil {
		return nil, err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return nil, fmt.Errorf("jobs: migrate: %w", err)
	}
	workers := river.NewWorkers()
	var client *river.Client[TTx]
	insert := func(ctx context.Context, args river.JobArgs) error {
		_, err := client.Insert(ctx, args, nil)
		return err
	}
	river.AddWorker(workers, &messageWorker{d: cfg.Messages})
	river.AddWorker(workers, &reconcileWorker{q: cfg.Queued, insert: insert})
	rc := &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10}},
		Workers:           workers,
		Logger:            quiet(cfg.Log),
		FetchPollInterval: cfg.PollInterval,
		PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return reconcileMessages{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})},
	}
	if rc.FetchPollInterval == 0 {
		rc.FetchPollInterval = time.Second
	}
	rc.FetchCooldown = min(rc.FetchPollInterval, river.FetchCooldownDefault)
	if cfg.Backoff != nil {
		rc.RetryPolicy = backoffPolicy{cfg.Backoff}
	}
	client, err = river.NewClient(driver, rc)
	if err != nil {
		return nil, err
	}
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &Runner{insert: insert, stop: client.Stop}, nil
}

// quiet keeps River's info chatter out of the server log.
func quiet(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

// WithAttrs and WithGroup keep the filter on derived loggers.
func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(a), f.min}
}

func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(name), f.min}
}
