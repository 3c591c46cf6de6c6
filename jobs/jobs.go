// Package jobs runs Vigil's background work on River: message and webhook
// delivery, with retries that survive restarts. Rows in Vigil's own tables are the
// source of truth; a job only carries an id, and a periodic reconciler
// enqueues whatever a crash between commit and enqueue left behind.
package jobs

import (
	"cmp"
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

// DeliverWebhook makes one attempt at a webhook delivery; River retries it
// with a growing delay until it succeeds or runs out of attempts.
type DeliverWebhook struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind names the job.
func (DeliverWebhook) Kind() string { return "deliver_webhook" }

// InsertOpts: at most one pending job per delivery, in a queue of its own
// (a slow receiver never holds e-mail back).
func (DeliverWebhook) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhooks, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
}

// QueueWebhooks is the River queue of webhook deliveries.
const QueueWebhooks = "webhooks"

// WebhookWorkers is how many deliveries run at once by default: they wait
// on the network, not on the CPU.
const WebhookWorkers = 50

// WebhookAttempts is how often a delivery is tried by default: once and
// three retries (CG §1.7).
const WebhookAttempts = 4

// HookDeliverer makes one attempt; final marks the last. It returns an
// error for River to retry when the attempt failed and was not final.
type HookDeliverer interface {
	DeliverWebhook(ctx context.Context, id string, attempt int, final bool) error
}

// PendingHookLister finds deliveries still pending.
type PendingHookLister interface {
	PendingDeliveries(ctx context.Context, cutoff time.Time, limit int) ([]string, error)
}

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

	Webhooks        HookDeliverer
	PendingHooks    PendingHookLister
	WebhookAttempts int // 0: WebhookAttempts
	WebhookWorkers  int // 0: WebhookWorkers
}

// Runner is a started River client of either database.
type Runner struct {
	insert       func(ctx context.Context, args river.JobArgs) error
	insertMany   func(ctx context.Context, params []river.InsertManyParams) error
	stop         func(ctx context.Context) error
	hookAttempts int
}

// EnqueueMessage schedules delivery of a stored message.
func (r *Runner) EnqueueMessage(ctx context.Context, id string) error {
	return r.insert(ctx, DeliverMessage{MessageID: id})
}

// EnqueueWebhook schedules a delivery.
func (r *Runner) EnqueueWebhook(ctx context.Context, id string) error {
	return r.EnqueueWebhooks(ctx, []string{id})
}

// EnqueueWebhooks schedules deliveries, a transaction per 500: a burst of
// events costs a few commits, not one per delivery.
func (r *Runner) EnqueueWebhooks(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		params := make([]river.InsertManyParams, n)
		for i, id := range ids[:n] {
			params[i] = river.InsertManyParams{Args: DeliverWebhook{DeliveryID: id}, InsertOpts: &river.InsertOpts{MaxAttempts: r.hookAttempts}}
		}
		if err := r.insertMany(ctx, params); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
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

type hookWorker struct {
	river.WorkerDefaults[DeliverWebhook]
	d HookDeliverer
}

func (w *hookWorker) Work(ctx context.Context, job *river.Job[DeliverWebhook]) error {
	return w.d.DeliverWebhook(ctx, job.Args.DeliveryID, job.Attempt, job.Attempt >= job.MaxAttempts)
}

func (w *hookWorker) Timeout(*river.Job[DeliverWebhook]) time.Duration { return time.Minute }

// reconcileHooks enqueues deliveries left pending without a job.
type reconcileHooks struct{}

func (reconcileHooks) Kind() string { return "reconcile_webhooks" }

type reconcileHooksWorker struct {
	river.WorkerDefaults[reconcileHooks]
	q       PendingHookLister
	enqueue func(ctx context.Context, ids []string) error
}

func (w *reconcileHooksWorker) Work(ctx context.Context, _ *river.Job[reconcileHooks]) error {
	ids, err := w.q.PendingDeliveries(ctx, time.Now().Add(-time.Minute), 1000)
	if err != nil {
		return err
	}
	return w.enqueue(ctx, ids)
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
	r := &Runner{hookAttempts: cmp.Or(max(cfg.WebhookAttempts, 0), WebhookAttempts)}
	r.insert = func(ctx context.Context, args river.JobArgs) error {
		_, err := client.Insert(ctx, args, nil)
		return err
	}
	r.insertMany = func(ctx context.Context, params []river.InsertManyParams) error {
		_, err := client.InsertMany(ctx, params)
		return err
	}
	river.AddWorker(workers, &messageWorker{d: cfg.Messages})
	river.AddWorker(workers, &reconcileWorker{q: cfg.Queued, insert: r.insert})
	periodic := []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
		func() (river.JobArgs, *river.InsertOpts) { return reconcileMessages{}, nil }, &river.PeriodicJobOpts{RunOnStart: true})}
	if cfg.Webhooks != nil {
		river.AddWorker(workers, &hookWorker{d: cfg.Webhooks})
		river.AddWorker(workers, &reconcileHooksWorker{q: cfg.PendingHooks, enqueue: r.EnqueueWebhooks})
		periodic = append(periodic, river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return reconcileHooks{}, nil }, &river.PeriodicJobOpts{RunOnStart: true}))
	}
	rc := &river.Config{
		Queues: map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 10},
			QueueWebhooks: {MaxWorkers: cmp.Or(cfg.WebhookWorkers, WebhookWorkers)}},
		Workers:           workers,
		Logger:            quiet(cfg.Log),
		FetchPollInterval: cfg.PollInterval,
		PeriodicJobs:      periodic,
		// A job whose worker died mid-attempt (a killed server) is retried
		// after this; the default, an hour, would hold webhooks back.
		RescueStuckJobsAfter: 2 * time.Minute,
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
	r.stop = client.Stop
	return r, nil
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
