-- +goose Up
-- Accounts and tenancy: partners and their customers, sign-in factors,
-- one-time tokens, plans and subscriptions, whitelabel, groups, messages,
-- SSO and the audit trail.

-- A partner organization manages the organizations whose partner_id names it.
-- The installation's first organization is the operator: a partner with no
-- partner of its own.
ALTER TABLE organizations ADD COLUMN partner_id UUID REFERENCES organizations (id) ON DELETE RESTRICT;
ALTER TABLE organizations ADD COLUMN is_partner BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX organizations_partner_id ON organizations (partner_id);
CREATE INDEX organizations_name ON organizations (lower(name));
UPDATE organizations SET is_partner = TRUE WHERE id = (SELECT id FROM organizations ORDER BY created_at LIMIT 1);

-- Users: confirmation, invitation, product, second factors (secrets sealed),
-- the SSAPI key (hash).
ALTER TABLE users ADD COLUMN confirmed_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN invited_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN active_product TEXT NOT NULL DEFAULT 'vrms';
ALTER TABLE users ADD COLUMN otp_totp_secret BYTEA;
ALTER TABLE users ADD COLUMN otp_totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN otp_last_step BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN otp_sms_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN otp_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN otp_pending_phone TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN otp_default_method TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN ssapi_key_hash TEXT;
ALTER TABLE users ADD COLUMN sso_subject TEXT NOT NULL DEFAULT '';
UPDATE users SET confirmed_at = created_at;
CREATE UNIQUE INDEX users_ssapi_key_hash ON users (ssapi_key_hash);
CREATE INDEX users_org_email ON users (organization_id, email);
CREATE INDEX users_org_created_at ON users (organization_id, created_at);

-- Access tokens carry a name; impersonation tokens the real user's id.
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN impersonator_id UUID REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE tokens ADD COLUMN parent_token_id UUID;

-- Single-use, expiring secrets: e-mail confirmation, invitation, password
-- reset, the OTP sign-in session, SMS codes, SSO state and SSO links. Only
-- hashes are stored.
CREATE TABLE user_tokens (
    id               UUID PRIMARY KEY,
    organization_id  UUID REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          UUID REFERENCES users (id) ON DELETE CASCADE,
    purpose          TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    data             TEXT NOT NULL DEFAULT '',
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    used_at          TIMESTAMPTZ
);
CREATE INDEX user_tokens_user_purpose ON user_tokens (user_id, purpose);
CREATE INDEX user_tokens_expires_at ON user_tokens (expires_at);

CREATE TABLE recovery_codes (
    id          UUID PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    used_at     TIMESTAMPTZ
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Resources remember who made them, so they can be transferred.
ALTER TABLE targets ADD COLUMN owner_id UUID REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE scans ADD COLUMN owner_id UUID REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE credentials ADD COLUMN owner_id UUID REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE port_lists ADD COLUMN owner_id UUID REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX targets_owner_id ON targets (owner_id);
CREATE INDEX scans_owner_id ON scans (owner_id);
CREATE INDEX credentials_owner_id ON credentials (owner_id);
CREATE INDEX port_lists_owner_id ON port_lists (owner_id);

-- Plans belong to the partner that sells them; features are numbers
-- (-1: unlimited).
CREATE TABLE plans (
    id                UUID PRIMARY KEY,
    organization_id   UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    product           TEXT NOT NULL CHECK (product IN ('pci', 'vrms', 'penetration')),
    is_default        BOOLEAN NOT NULL DEFAULT FALSE,
    default_interval  TEXT NOT NULL DEFAULT 'monthly' CHECK (default_interval IN ('none', 'monthly', 'yearly')),
    features          TEXT NOT NULL DEFAULT '{}',
    created_at        TIMESTAMPTZ NOT NULL,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, code)
);
CREATE UNIQUE INDEX plans_default_per_product ON plans (organization_id, product) WHERE is_default;

CREATE TABLE subscriptions (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    plan_id          UUID NOT NULL REFERENCES plans (id) ON DELETE RESTRICT,
    product          TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'inactive', 'canceled')),
    interval         TEXT NOT NULL CHECK (interval IN ('none', 'monthly', 'yearly')),
    start_date       TIMESTAMPTZ NOT NULL,
    end_date         TIMESTAMPTZ,
    price            DOUBLE PRECISION NOT NULL DEFAULT 0,
    trial_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    features         TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions (organization_id, product) WHERE status = 'active';
CREATE INDEX subscriptions_org_created_at ON subscriptions (organization_id, created_at);
CREATE INDEX subscriptions_plan_id ON subscriptions (plan_id);

CREATE TABLE whitelabel_settings (
    organization_id    UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    company_name       TEXT NOT NULL DEFAULT '',
    logo               BYTEA,
    logo_content_type  TEXT NOT NULL DEFAULT '',
    primary_color      TEXT NOT NULL DEFAULT '',
    secondary_color    TEXT NOT NULL DEFAULT '',
    support_email      TEXT NOT NULL DEFAULT '',
    email_from_name    TEXT NOT NULL DEFAULT '',
    domain             TEXT UNIQUE,
    report_branding    BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- Groups: resource-level access (AttackForge SSAPI groups).
CREATE TABLE groups (
    id                                 UUID PRIMARY KEY,
    organization_id                    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                               TEXT NOT NULL,
    group_owner                        TEXT NOT NULL DEFAULT '',
    primary_contact_name               TEXT NOT NULL DEFAULT '',
    primary_contact_number             TEXT NOT NULL DEFAULT '',
    primary_contact_email              TEXT NOT NULL DEFAULT '',
    is_deleted                         BOOLEAN NOT NULL DEFAULT FALSE,
    custom_fields                      TEXT NOT NULL DEFAULT '[]',
    access                             TEXT NOT NULL DEFAULT '{}',
    auto_add_project_request           BOOLEAN NOT NULL DEFAULT FALSE,
    enable_project_team_notifications  BOOLEAN NOT NULL DEFAULT FALSE,
    created_by                         UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at                         TIMESTAMPTZ NOT NULL,
    updated_at                         TIMESTAMPTZ NOT NULL,
    UNIQUE (organization_id, name)
);
CREATE INDEX groups_org_created_at ON groups (organization_id, created_at);

CREATE TABLE group_members (
    group_id      UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_level  TEXT NOT NULL CHECK (access_level IN ('view', 'upload', 'edit')),
    origin        TEXT NOT NULL DEFAULT 'manual' CHECK (origin IN ('manual', 'sso')),
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

-- IdP group names whose members join the group at sign-in.
CREATE TABLE group_sso_links (
    group_id      UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    idp_group     TEXT NOT NULL,
    access_level  TEXT NOT NULL CHECK (access_level IN ('none', 'view', 'upload', 'edit')),
    PRIMARY KEY (group_id, idp_group)
);
CREATE INDEX group_sso_links_idp_group ON group_sso_links (idp_group);

CREATE TABLE group_targets (
    group_id   UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    target_id  UUID NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, target_id)
);
CREATE INDEX group_targets_target ON group_targets (target_id);

CREATE TABLE group_scans (
    group_id  UUID NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    scan_id   UUID NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, scan_id)
);
CREATE INDEX group_scans_scan ON group_scans (scan_id);

CREATE TABLE notification_preferences (
    id               UUID PRIMARY KEY,
    organization_id  UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    params           TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (user_id, name)
);

-- Every e-mail and SMS: queued, then sent (or stored, for the outbox
-- provider), or failed after its retries.
CREATE TABLE messages (
    id               UUID PRIMARY KEY,
    organization_id  UUID REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          UUID REFERENCES users (id) ON DELETE SET NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
    template         TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL DEFAULT '',
    body_text        TEXT NOT NULL,
    body_html        TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'stored', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT NOT NULL DEFAULT '',
    provider_id      TEXT NOT NULL DEFAULT '',
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ
);
CREATE INDEX messages_status_created_at ON messages (status, created_at);
CREATE INDEX messages_org_created_at ON messages (organization_id, created_at);

-- One OpenID Connect provider per organization; the client secret is sealed.
CREATE TABLE oidc_providers (
    organization_id  UUID PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    issuer           TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    client_secret    BYTEA,
    groups_claim     TEXT NOT NULL DEFAULT 'groups',
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    updated_at       TIMESTAMPTZ NOT NULL
);

-- Append-only trail of privileged actions and authentication events.
CREATE TABLE audit_events (
    id               UUID PRIMARY KEY,
    organization_id  UUID,
    actor_id         UUID,
    impersonator_id  UUID,
    action           TEXT NOT NULL,
    resource_type    TEXT NOT NULL DEFAULT '',
    resource_id      TEXT NOT NULL DEFAULT '',
    ip               TEXT NOT NULL DEFAULT '',
    user_agent       TEXT NOT NULL DEFAULT '',
    request_id       TEXT NOT NULL DEFAULT '',
    changes          TEXT NOT NULL DEFAULT '{}',
    created_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_events_org_created_at ON audit_events (organization_id, created_at);
CREATE INDEX audit_events_org_action ON audit_events (organization_id, action, created_at);
CREATE INDEX audit_events_actor ON audit_events (actor_id, created_at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE oidc_providers;
DROP TABLE messages;
DROP TABLE notification_preferences;
DROP TABLE group_scans;
DROP TABLE group_targets;
DROP TABLE group_sso_links;
DROP TABLE group_members;
DROP TABLE groups;
DROP TABLE whitelabel_settings;
DROP TABLE subscriptions;
DROP TABLE plans;
DROP INDEX port_lists_owner_id;
DROP INDEX credentials_owner_id;
DROP INDEX scans_owner_id;
DROP INDEX targets_owner_id;
ALTER TABLE port_lists DROP COLUMN owner_id;
ALTER TABLE credentials DROP COLUMN owner_id;
ALTER TABLE scans DROP COLUMN owner_id;
ALTER TABLE targets DROP COLUMN owner_id;
DROP TABLE recovery_codes;
DROP TABLE user_tokens;
ALTER TABLE tokens DROP COLUMN parent_token_id;
ALTER TABLE tokens DROP COLUMN impersonator_id;
ALTER TABLE tokens DROP COLUMN name;
DROP INDEX users_org_created_at;
DROP INDEX users_org_email;
DROP INDEX users_ssapi_key_hash;
ALTER TABLE users DROP COLUMN sso_subject;
ALTER TABLE users DROP COLUMN ssapi_key_hash;
ALTER TABLE users DROP COLUMN otp_default_method;
ALTER TABLE users DROP COLUMN otp_pending_phone;
ALTER TABLE users DROP COLUMN otp_phone;
ALTER TABLE users DROP COLUMN otp_sms_enabled;
ALTER TABLE users DROP COLUMN otp_last_step;
ALTER TABLE users DROP COLUMN otp_totp_enabled;
ALTER TABLE users DROP COLUMN otp_totp_secret;
ALTER TABLE users DROP COLUMN active_product;
ALTER TABLE users DROP COLUMN invited_at;
ALTER TABLE users DROP COLUMN confirmed_at;
DROP INDEX organizations_name;
DROP INDEX organizations_partner_id;
ALTER TABLE organizations DROP COLUMN is_partner;
ALTER TABLE organizations DROP COLUMN partner_id;
