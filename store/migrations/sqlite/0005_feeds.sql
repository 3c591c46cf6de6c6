-- +goose Up
-- Vulnerability intelligence: NVD CVE records (with the vendor:product pairs
-- their vulnerable criteria name, to find them by product), NVD CPE match
-- records, CISA KEV, FIRST EPSS, the Debian Security Tracker and Recog
-- fingerprint files, and each source's import status. Findings gain their
-- CVE's EPSS score.

CREATE TABLE feed_sources (
    source         TEXT PRIMARY KEY,
    version        TEXT NOT NULL DEFAULT '',
    records        INTEGER NOT NULL DEFAULT 0,
    cursor         TEXT NOT NULL DEFAULT '',
    last_sync_at   TEXT,
    last_error     TEXT NOT NULL DEFAULT '',
    last_error_at  TEXT,
    updated_at     TEXT NOT NULL
);

CREATE TABLE cves (
    id              TEXT PRIMARY KEY,
    status          TEXT NOT NULL DEFAULT '',
    published       TEXT,
    last_modified   TEXT,
    description     TEXT NOT NULL DEFAULT '',
    score           REAL NOT NULL DEFAULT 0,
    vector          TEXT NOT NULL DEFAULT '',
    cvss_version    TEXT NOT NULL DEFAULT '',
    assessed        INTEGER NOT NULL DEFAULT 0,
    nvd_kev         INTEGER NOT NULL DEFAULT 0,
    configurations  TEXT NOT NULL DEFAULT '[]',
    refs            TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE cve_products (
    vendor   TEXT NOT NULL,
    product  TEXT NOT NULL,
    cve_id   TEXT NOT NULL REFERENCES cves (id) ON DELETE CASCADE,
    PRIMARY KEY (vendor, product, cve_id)
);
CREATE INDEX cve_products_cve ON cve_products (cve_id);

CREATE TABLE cpe_matches (
    id             TEXT PRIMARY KEY,
    criteria       TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT '',
    last_modified  TEXT,
    range_json     TEXT NOT NULL DEFAULT '{}',
    names          TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE kev (
    cve_id           TEXT PRIMARY KEY,
    vendor           TEXT NOT NULL DEFAULT '',
    product          TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL DEFAULT '',
    date_added       TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT '',
    required_action  TEXT NOT NULL DEFAULT '',
    due_date         TEXT NOT NULL DEFAULT '',
    ransomware       TEXT NOT NULL DEFAULT '',
    notes            TEXT NOT NULL DEFAULT ''
);

CREATE TABLE epss (
    cve_id      TEXT PRIMARY KEY,
    score       REAL NOT NULL,
    percentile  REAL NOT NULL
);

CREATE TABLE debian_tracker (
    source         TEXT NOT NULL,
    release        TEXT NOT NULL,
    cve_id         TEXT NOT NULL,
    status         TEXT NOT NULL,
    fixed_version  TEXT NOT NULL DEFAULT '',
    urgency        TEXT NOT NULL DEFAULT '',
    nodsa          TEXT NOT NULL DEFAULT '',
    nodsa_reason   TEXT NOT NULL DEFAULT '',
    description    TEXT NOT NULL DEFAULT '',
    debian_bug     INTEGER NOT NULL DEFAULT 0,
    repositories   TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (source, release, cve_id)
);
CREATE INDEX debian_tracker_cve ON debian_tracker (cve_id);

CREATE TABLE recog_files (
    name        TEXT PRIMARY KEY,
    content     TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

ALTER TABLE findings ADD COLUMN epss REAL NOT NULL DEFAULT 0;
CREATE INDEX findings_org_epss ON findings (organization_id, epss, id);
CREATE INDEX findings_org_qod ON findings (organization_id, qod, severity, id);

-- +goose Down
DROP INDEX findings_org_qod;
DROP INDEX findings_org_epss;
ALTER TABLE findings DROP COLUMN epss;
DROP TABLE recog_files;
DROP TABLE debian_tracker;
DROP TABLE epss;
DROP TABLE kev;
DROP TABLE cpe_matches;
DROP TABLE cve_products;
DROP TABLE cves;
DROP TABLE feed_sources;
