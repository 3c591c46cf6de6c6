-- +goose Up
-- Workflow: exceptions (severity overrides applied to findings), schedules
-- and the slots they fired, the event outbox, webhooks with their
-- deliveries and attempts, and in-app notifications.

-- An active exception overrides findings in place: severity and pci_fail
-- become the effective values (what every list, count and verdict reads)
-- and the engine's own verdict is kept beside them.
ALTER TABLE findings ADD COLUMN original_severity DOUBLE PRECISION;
ALTER TABLE findings ADD COLUMN original_pci_fail BOOLEAN;
ALTER TABLE findings ADD COLUMN exception_id UUID;
CREATE INDEX findings_exception ON findings (exception_id) WHERE exception_id IS NOT NULL;

ALTER TABLE notification_preferences ADD COLUMN email BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE exceptions (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id         UUID REFERENCES users (id) ON DELETE SET NULL,
    text             TEXT NOT NULL,
    nvt              TEXT NOT NULL,
    hosts            TEXT NOT NULL DEFAULT '',
    port             INTEGER,
    scan_id          UUID REFERENCES scans (id) ON DELETE CASCADE,
    new_severity     DOUBLE PRECISION NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('pending', 'active', 'expired', 'rejected')),
    end_date         TIMESTAMPTZ,
    reviewer_id      UUID REFERENCES users (id) ON DELETE SET NULL,
    reviewed_at      TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX exceptions_org_created_at ON exceptions (organization_id, created_at, id);
CREATE INDEX exceptions_org_status_nvt ON exceptions (organization_id, status, nvt);
CREATE INDEX exceptions_active_end ON exceptions (end_date) WHERE status = 'active';
CREATE INDEX exceptions_scan ON exceptions (scan_id);

CREATE TABLE schedules (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id         UUID REFERENCES users (id) ON DELETE SET NULL,
    name             TEXT NOT NULL,
    comment          TEXT NOT NULL DEFAULT '',
    first_time       TIMESTAMPTZ NOT NULL,
    timezone         TEXT NOT NULL,
    period           INTEGER NOT NULL DEFAULT 1,
    period_unit      TEXT NOT NULL,
    rrule            TEXT NOT NULL DEFAULT '',
    until            TIMESTAMPTZ,
    count            INTEGER NOT NULL DEFAULT 0,
    next_run_at      TIMESTAMPTZ,
    last_run_at      TIMESTAMPTZ,
    slots            INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX schedules_org_created_at ON schedules (organization_id, created_at, id);
CREATE INDEX schedules_org_name ON schedules (organization_id, name, id);
CREATE INDEX schedules_next_run_at ON schedules (next_run_at) WHERE next_run_at IS NOT NULL;
CREATE INDEX scans_schedule ON scans (schedule_id) WHERE schedule_id IS NOT NULL;
-- A scan's next scheduled run, copied from its schedule for the upcoming list.
ALTER TABLE scans ADD COLUMN next_run_at TIMESTAMPTZ;
CREATE INDEX scans_org_next_run_at ON scans (organization_id, next_run_at, id) WHERE next_run_at IS NOT NULL;

CREATE TABLE schedule_runs (
    schedule_id      UUID NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    scan_id          UUID NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    slot_at          TIMESTAMPTZ NOT NULL,
    run_id           UUID,
    skipped          BOOLEAN NOT NULL DEFAULT FALSE,
    reason           TEXT NOT NULL DEFAULT '',
    missed           INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (schedule_id, scan_id, slot_at)
);
CREATE INDEX schedule_runs_schedule_created ON schedule_runs (schedule_id, created_at);

-- The outbox: written with the change that caused it, fanned out later.
CREATE TABLE events (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type             TEXT NOT NULL,
    resource_type    TEXT NOT NULL DEFAULT '',
    resource_id      TEXT NOT NULL DEFAULT '',
    title            TEXT NOT NULL DEFAULT '',
    message          TEXT NOT NULL DEFAULT '',
    outcome          TEXT NOT NULL DEFAULT '',
    max_severity     DOUBLE PRECISION NOT NULL DEFAULT 0,
    data             TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    dispatched_at    TIMESTAMPTZ
);
CREATE INDEX events_undispatched ON events (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX events_dispatched ON events (dispatched_at) WHERE dispatched_at IS NOT NULL;

CREATE TABLE webhooks (
    id                 UUID PRIMARY KEY,
    organization_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    owner_id           UUID REFERENCES users (id) ON DELETE SET NULL,
    name               TEXT NOT NULL,
    url                TEXT NOT NULL,
    events             TEXT NOT NULL, -- comma-separated event names
    secret_sealed      TEXT NOT NULL,
    active             BOOLEAN NOT NULL DEFAULT TRUE,
    include_customers  BOOLEAN NOT NULL DEFAULT FALSE,
    last_delivery_at   TIMESTAMPTZ,
    last_status        TEXT NOT NULL DEFAULT '',
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX webhooks_org_created_at ON webhooks (organization_id, created_at, id);
CREATE INDEX webhooks_org_active ON webhooks (organization_id) WHERE active;

CREATE TABLE webhook_deliveries (
    id               UUID PRIMARY KEY,
    webhook_id       UUID NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    organization_id  UUID NOT NULL,
    event_id         UUID NOT NULL,
    event            TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    response_code    INTEGER NOT NULL DEFAULT 0,
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    delivered_at     TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_hook_created ON webhook_deliveries (webhook_id, created_at, id);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (created_at) WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    delivery_id       UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt           INTEGER NOT NULL,
    request_headers   TEXT NOT NULL DEFAULT '{}',
    response_code     INTEGER NOT NULL DEFAULT 0,
    response_headers  TEXT NOT NULL DEFAULT '{}',
    response_body     TEXT NOT NULL DEFAULT '',
    duration_ms       INTEGER NOT NULL DEFAULT 0,
    error             TEXT NOT NULL DEFAULT '',
    created_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE notifications (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_id         UUID NOT NULL,
    type             TEXT NOT NULL,
    event            TEXT NOT NULL,
    title            TEXT NOT NULL,
    message          TEXT NOT NULL DEFAULT '',
    resource_type    TEXT NOT NULL DEFAULT '',
    resource_id      TEXT NOT NULL DEFAULT '',
    data             TEXT NOT NULL DEFAULT '{}',
    read_at          TIMESTAMPTZ,
    seen_at          TIMESTAMPTZ,
    email_pending    BOOLEAN NOT NULL DEFAULT FALSE, -- the user asked for e-mail; not queued yet
    created_at       TIMESTAMPTZ NOT NULL,
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
