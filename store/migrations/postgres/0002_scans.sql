-- +goose Up
-- Scans, their profiles and scanners, and runs (scan histories). A run is
-- claimed by a scanner node with a lease it renews by heartbeat; a run whose
-- lease ran out is interrupted (see store/run.go).

CREATE TABLE scanners (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('local')),
    created_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, kind, name)
);

CREATE TABLE scan_profiles (
    id                 UUID PRIMARY KEY,
    organization_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    builtin_key        TEXT,
    gvm_id             TEXT,
    name               TEXT NOT NULL,
    comment            TEXT NOT NULL DEFAULT '',
    port_list_id       UUID REFERENCES port_lists (id) ON DELETE RESTRICT,
    service_detection  BOOLEAN NOT NULL,
    checks             TEXT NOT NULL CHECK (checks IN ('none', 'safe', 'pci')),
    fixed              BOOLEAN NOT NULL DEFAULT FALSE,
    active             BOOLEAN NOT NULL DEFAULT TRUE,
    app_type           TEXT,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, builtin_key)
);
CREATE INDEX scan_profiles_org_name ON scan_profiles (organization_id, lower(name));
CREATE INDEX scan_profiles_org_gvm_id ON scan_profiles (organization_id, gvm_id);
CREATE INDEX scan_profiles_port_list_id ON scan_profiles (port_list_id);

CREATE TABLE scans (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    comment          TEXT NOT NULL DEFAULT '',
    target_id        UUID NOT NULL REFERENCES targets (id) ON DELETE RESTRICT,
    profile_id       UUID NOT NULL REFERENCES scan_profiles (id) ON DELETE RESTRICT,
    scanner_id       UUID NOT NULL REFERENCES scanners (id) ON DELETE RESTRICT,
    schedule_id      UUID,
    status           TEXT NOT NULL,
    progress         INTEGER NOT NULL DEFAULT 0,
    last_run_id      UUID,
    last_run_at      TIMESTAMPTZ,
    last_done_at     TIMESTAMPTZ,
    count_high       INTEGER NOT NULL DEFAULT 0,
    count_medium     INTEGER NOT NULL DEFAULT 0,
    count_low        INTEGER NOT NULL DEFAULT 0,
    count_log        INTEGER NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX scans_org_name ON scans (organization_id, lower(name));
CREATE INDEX scans_org_name_pattern ON scans (organization_id, lower(name) text_pattern_ops);
CREATE INDEX scans_org_status ON scans (organization_id, status);
CREATE INDEX scans_org_created_at ON scans (organization_id, created_at);
CREATE INDEX scans_org_updated_at ON scans (organization_id, updated_at);
CREATE INDEX scans_org_last_run_at ON scans (organization_id, last_run_at);
CREATE INDEX scans_org_last_done_at ON scans (organization_id, last_done_at);
CREATE INDEX scans_org_progress ON scans (organization_id, progress);
CREATE INDEX scans_target_id ON scans (target_id);
CREATE INDEX scans_profile_id ON scans (profile_id);
CREATE INDEX scans_scanner_id ON scans (scanner_id);

CREATE TABLE scan_runs (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scan_id          UUID NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    scanner_id       UUID NOT NULL REFERENCES scanners (id) ON DELETE RESTRICT,
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    progress         INTEGER NOT NULL DEFAULT 0,
    hosts_total      INTEGER NOT NULL DEFAULT 0,
    hosts_done       INTEGER NOT NULL DEFAULT 0,
    hosts_up         INTEGER NOT NULL DEFAULT 0,
    count_high       INTEGER NOT NULL DEFAULT 0,
    count_medium     INTEGER NOT NULL DEFAULT 0,
    count_low        INTEGER NOT NULL DEFAULT 0,
    count_log        INTEGER NOT NULL DEFAULT 0,
    compliant        BOOLEAN,
    config           JSONB NOT NULL DEFAULT '{}',
    node_id          TEXT,
    lease_until      TIMESTAMPTZ,
    requested_at     TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    ended_at         TIMESTAMPTZ,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX scan_runs_scan_requested_at ON scan_runs (scan_id, requested_at);
CREATE INDEX scan_runs_org_status ON scan_runs (organization_id, status);
-- Work queue: nodes claim the oldest runs of their scanner; expired leases are found by time.
CREATE INDEX scan_runs_scanner_status ON scan_runs (scanner_id, status, requested_at);
CREATE INDEX scan_runs_status_lease ON scan_runs (status, lease_until);
-- At most one active run per scan, whatever races between replicas.
CREATE UNIQUE INDEX scan_runs_one_active ON scan_runs (scan_id)
    WHERE status IN ('Requested', 'Queued', 'Running', 'Stop Requested');

-- +goose Down
DROP TABLE scan_runs;
DROP TABLE scans;
DROP TABLE scan_profiles;
DROP TABLE scanners;
