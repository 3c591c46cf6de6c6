-- +goose Up
-- Workflow: exceptions (severity overrides applied to findings), schedules
-- and the slots they fired, the event outbox, webhooks with their
-- deliveries and attempts, and in-app notifications.

-- An active exception overrides findings in place: severity and pci_fail
-- become the effective values (what every list, count and verdict reads)
-- and the engine's own verdict is kept beside them.
ALTER TABLE findings ADD COLUMN original_severity REAL;
ALTER TABLE findings ADD COLUMN original_pci_fail INTEGER;
ALTER TABLE findings ADD COLUMN exception_id TEXT;
CREATE INDEX findings_exception ON findings (exception_id) WHERE exception_id IS NOT NULL;

ALTER TABLE notification_preferences ADD COLUMN email INTEGER NOT NULL DEFAULT 0;

CREATE TABLE exceptions (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    text             TEXT NOT NULL COLLATE NOCASE,
    nvt              TEXT NOT NULL,
    hosts            TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    port             INTEGER,
    scan_id          TEXT REFERENCES scans (id) ON DELETE CASCADE,
    new_severity     REAL NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('pending', 'active', 'expired', 'rejected')),
    end_date         TEXT,
    reviewer_id      TEXT REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX exceptions_org_created_at ON exceptions (organization_id, created_at, id);
CREATE INDEX exceptions_org_status_nvt ON exceptions (organization_id, status, nvt);
CREATE INDEX exceptions_active_end ON exceptions (end_date) WHERE status = 'active';
CREATE INDEX exceptions_scan ON exceptions (scan_id);

CREATE TABLE schedules (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
    name             TEXT NOT NULL COLLATE NOCASE,
    comment          TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    first_time       TEXT NOT NULL,
    timezone         TEXT NOT NULL,
    period           INTEGER NOT NULL DEFAULT 1,
    period_unit      TEXT NOT NULL,
    rrule            TEXT NOT NULL DEFAULT '',
    until            TEXT,
    count            INTEGER NOT NULL DEFAULT 0,
    next_run_at      TEXT,
    last_run_at      TEXT,
    slots            INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX schedules_org_created_at ON schedules (organization_id, created_at, id);
CREATE INDEX schedules_org_name ON schedules (organization_id, name, id);
CREATE INDEX schedules_next_run_at ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX scans_schedule ON scans (schedule_id) WHERE schedule_id IS NOT NULL;
-- A scan's next scheduled run, copied from its schedule for the upcoming list.
ALTER TABLE scans ADD COLUMN next_run_at TEXT;
CREATE INDEX scans_org_next_run_at ON scans (organization_id, next_run_at, id) WHERE next_run_at IS NOT NULL;

CREATE TABLE schedule_runs (
    schedule_id      TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    scan_id          TEXT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    slot_at          TEXT NOT NULL,
    run_id           TEXT,
    skipped          INTEGER NOT NULL DEFAULT 0,
    reason           TEXT NOT NULL DEFAULT '',
    missed           INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    PRIMARY KEY (schedule_id, scan_id, slot_at)
);
CREATE INDEX schedule_runs_schedule_created ON schedule_runs (schedule_id, created_at);

-- The outbox: written with the change that caused it, fanned out later.
CREATE TABLE events (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type             TEXT NOT NULL,
    resource_type    TEXT NOT NULL DEFAULT '',
    resource_id      TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    message          TEXT NOT NULL DEFAULT '',
    outcome          TEXT NOT NULL DEFAULT '',
    max_severity     REAL NOT NULL DEFAULT 0,
    data             TEXT NOT NULL DEFAULT '{}',
    created_at       TEXT NOT NULL,
    dispatched_at    TEXT
);
CREATE INDEX events_undispatched ON events (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX events_dispatched ON events (dispatched_at) WHERE dispatched_at IS NOT NULL;

CREATE TABLE webhooks (
    id                 TEXT PRIMARY KEY,
    organization_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id           TEXT REFERENCES users (id) ON DELETE SET NULL,
    name               TEXT NOT NULL COLLATE NOCASE,
    url                TEXT NOT NULL COLLATE NOCASE,
    events             TEXT NOT NULL, -- comma-separated event names
    secret_sealed      TEXT NOT NULL,
    active             INTEGER NOT NULL DEFAULT 1,
    include_customers  INTEGER NOT NULL DEFAULT 0,
    last_delivery_at   TEXT,
    last_status        TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX webhooks_org_created_at ON webhooks (organization_id, created_at, id);
CREATE INDEX webhooks_org_active ON webhooks (organization_id) WHERE active;

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    webhook_id       TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    response_code    INTEGER NOT NULL DEFAULT 0,
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    delivered_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_hook_created ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (created_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    delivery_id       TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    request_headers   TEXT NOT NULL DEFAULT '{}',
    response_code     INTEGER NOT NULL DEFAULT 0,
    response_headers  TEXT NOT NULL DEFAULT '{}',
    response_body     TEXT NOT NULL DEFAULT '',
    duration_ms       INTEGER NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE notifications (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL,
    type             TEXT NOT NULL,
    event            TEXT NOT NULL,
    title            TEXT NOT NULL COLLATE NOCASE,
    message          TEXT NOT NULL DEFAULT '',
    resource_type    TEXT NOT NULL DEFAULT '',
    resource_id      TEXT NOT NULL DEFAULT '',
    data             TEXT NOT NULL DEFAULT '{}',
    read_at          TEXT,
    seen_at          TEXT,
    email_pending    INTEGER NOT NULL DEFAULT 0, -- the user asked for e-mail; not queued yet
    created_at       TEXT NOT NULL,
    UNIQUE (user_id, event_id)
);
CREATE INDEX notifications_email_pending ON notifications (created_at) WHERE email_pending;
CREATE INDEX notifications_user_created ON notifications (user_id, created_at, id);
CREATE INDEX notifications_user_unread ON notifications (user_id) WHERE read_at IS NULL;
CREATE INDEX notifications_user_unseen ON notifications (user_id) WHERE seen_at IS NULL;

CREATE INDEX audit_events_created_at ON audit_events (created_at);
CREATE INDEX audit_events_org_resource ON audit_events (organization_id, resource_type, resource_id, created_at);

-- +goose Down
DROP INDEX audit_events_org_resource;
DROP INDEX audit_events_created_at;
DROP TABLE notifications;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE events;
DROP TABLE schedule_runs;
DROP INDEX scans_org_next_run_at;
ALTER TABLE scans DROP COLUMN next_run_at;
DROP INDEX scans_schedule;
DROP TABLE schedules;
DROP TABLE exceptions;
ALTER TABLE notification_preferences DROP COLUMN email;
DROP INDEX findings_exception;
ALTER TABLE findings DROP COLUMN exception_id;
ALTER TABLE findings DROP COLUMN original_pci_fail;
ALTER TABLE findings DROP COLUMN original_severity;
