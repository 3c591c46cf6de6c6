-- +goose Up
-- Case-insensitive search and sort use lower(column); the expression indexes
-- with text_pattern_ops serve LIKE 'prefix%' whatever the database collation.

CREATE TABLE organizations (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email            TEXT NOT NULL UNIQUE,
    name             TEXT NOT NULL DEFAULT '',
    role             TEXT NOT NULL CHECK (role IN ('admin', 'manager', 'user', 'viewer')),
    locale           TEXT NOT NULL DEFAULT 'en',
    timezone         TEXT NOT NULL DEFAULT 'UTC',
    password_hash    TEXT NOT NULL,
    sign_in_count    BIGINT NOT NULL DEFAULT 0,
    last_sign_in_at  TIMESTAMPTZ,
    last_sign_in_ip  TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_organization_id ON users (organization_id);

CREATE TABLE api_keys (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL DEFAULT '',
    prefix           TEXT NOT NULL,
    key_hash         TEXT NOT NULL UNIQUE,
    created_by       UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    last_used_at     TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ
);
CREATE INDEX api_keys_organization_id ON api_keys (organization_id);

CREATE TABLE tokens (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    ip               TEXT NOT NULL DEFAULT '',
    user_agent       TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ,
    last_used_at     TIMESTAMPTZ,
    revoked_at       TIMESTAMPTZ
);
CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_organization_id ON tokens (organization_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Failed sign-in counters, keyed "acct:<email>" or "ip:<address>". Not tied to
-- an organization: they are counted before anyone is known.
CREATE TABLE auth_failures (
    key            TEXT PRIMARY KEY,
    count          BIGINT NOT NULL,
    window_start   TIMESTAMPTZ NOT NULL,
    blocked_until  TIMESTAMPTZ
);

CREATE TABLE credentials (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    comment          TEXT NOT NULL DEFAULT '',
    type             TEXT NOT NULL CHECK (type IN ('ssh', 'smb', 'esxi', 'snmp')),
    username         TEXT NOT NULL DEFAULT '',
    port             BIGINT NOT NULL DEFAULT 0,
    domain           TEXT NOT NULL DEFAULT '',
    snmp_version     TEXT NOT NULL DEFAULT '',
    auth_protocol    TEXT NOT NULL DEFAULT '',
    priv_protocol    TEXT NOT NULL DEFAULT '',
    secrets          BYTEA NOT NULL,
    secret_fields    TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX credentials_org_name ON credentials (organization_id, lower(name));
CREATE INDEX credentials_org_name_pattern ON credentials (organization_id, lower(name) text_pattern_ops);
CREATE INDEX credentials_org_created_at ON credentials (organization_id, created_at);
CREATE INDEX credentials_org_type ON credentials (organization_id, type);

CREATE TABLE port_lists (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    comment          TEXT NOT NULL DEFAULT '',
    builtin_key      TEXT,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    app_type         TEXT,
    port_range       TEXT NOT NULL DEFAULT '',
    tcp_count        BIGINT NOT NULL DEFAULT 0,
    udp_count        BIGINT NOT NULL DEFAULT 0,
    port_count       BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, builtin_key)
);
CREATE INDEX port_lists_org_name ON port_lists (organization_id, lower(name));
CREATE INDEX port_lists_org_name_pattern ON port_lists (organization_id, lower(name) text_pattern_ops);
CREATE INDEX port_lists_org_created_at ON port_lists (organization_id, created_at);

CREATE TABLE port_list_ranges (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    port_list_id     UUID NOT NULL REFERENCES port_lists (id) ON DELETE CASCADE,
    start_port       BIGINT NOT NULL CHECK (start_port BETWEEN 1 AND 65535),
    end_port         BIGINT NOT NULL CHECK (end_port BETWEEN 1 AND 65535 AND end_port >= start_port),
    protocol         TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp'))
);
CREATE INDEX port_list_ranges_list ON port_list_ranges (port_list_id, protocol, start_port);

-- Deleting a port list or credential still used by a target fails on these
-- RESTRICT keys; the store reports which targets hold it.
CREATE TABLE targets (
    id                  UUID PRIMARY KEY,
    organization_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    hosts               TEXT NOT NULL,
    exclude_hosts       TEXT NOT NULL DEFAULT '',
    comment             TEXT NOT NULL DEFAULT '',
    port_list_id        UUID NOT NULL REFERENCES port_lists (id) ON DELETE RESTRICT,
    alive_test          TEXT NOT NULL CHECK (alive_test IN ('scan_config_default', 'icmp', 'tcp_syn', 'consider_alive')),
    ssh_credential_id   UUID REFERENCES credentials (id) ON DELETE RESTRICT,
    smb_credential_id   UUID REFERENCES credentials (id) ON DELETE RESTRICT,
    esxi_credential_id  UUID REFERENCES credentials (id) ON DELETE RESTRICT,
    snmp_credential_id  UUID REFERENCES credentials (id) ON DELETE RESTRICT,
    host_count          BIGINT NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX targets_org_name ON targets (organization_id, lower(name));
CREATE INDEX targets_org_name_pattern ON targets (organization_id, lower(name) text_pattern_ops);
CREATE INDEX targets_org_created_at ON targets (organization_id, created_at);
CREATE INDEX targets_org_updated_at ON targets (organization_id, updated_at);
CREATE INDEX targets_org_host_count ON targets (organization_id, host_count);
CREATE INDEX targets_port_list_id ON targets (port_list_id);
CREATE INDEX targets_ssh_credential_id ON targets (ssh_credential_id);
CREATE INDEX targets_smb_credential_id ON targets (smb_credential_id);
CREATE INDEX targets_esxi_credential_id ON targets (esxi_credential_id);
CREATE INDEX targets_snmp_credential_id ON targets (snmp_credential_id);

-- +goose Down
DROP TABLE targets;
DROP TABLE port_list_ranges;
DROP TABLE port_lists;
DROP TABLE credentials;
DROP TABLE auth_failures;
DROP TABLE tokens;
DROP TABLE api_keys;
DROP TABLE users;
DROP TABLE organizations;
