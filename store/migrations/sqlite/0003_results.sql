-- +goose Up
-- What scans find: hosts (assets, deduplicated per organization by address
-- and hostname), each run's view of its hosts and open ports, findings
-- tracked across the runs of a scan by a stable dedup key, each run's diff,
-- and aggregates maintained at ingest for the dashboard widgets.

CREATE TABLE hosts (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ip               TEXT NOT NULL COLLATE NOCASE,
    ip_key           TEXT NOT NULL, -- the address as 32 hex digits, so addresses sort numerically
    hostname         TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    os               TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    first_seen_at    TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    last_scan_id     TEXT REFERENCES scans (id) ON DELETE SET NULL,
    last_run_id      TEXT REFERENCES scan_runs (id) ON DELETE SET NULL,
    count_high       INTEGER NOT NULL DEFAULT 0,
    count_medium     INTEGER NOT NULL DEFAULT 0,
    count_low        INTEGER NOT NULL DEFAULT 0,
    count_log        INTEGER NOT NULL DEFAULT 0,
    vulns_open       INTEGER NOT NULL DEFAULT 0, -- high + medium + low
    max_severity     REAL NOT NULL DEFAULT 0,
    pci_failures     INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (organization_id, ip, hostname)
);
CREATE INDEX hosts_org_ip_key ON hosts (organization_id, ip_key, id);
CREATE INDEX hosts_org_ip_pattern ON hosts (organization_id, ip);
CREATE INDEX hosts_org_hostname ON hosts (organization_id, hostname);
CREATE INDEX hosts_org_os ON hosts (organization_id, os);
CREATE INDEX hosts_org_first_seen ON hosts (organization_id, first_seen_at, id);
CREATE INDEX hosts_org_last_seen ON hosts (organization_id, last_seen_at, id);
CREATE INDEX hosts_org_max_severity ON hosts (organization_id, max_severity, vulns_open, id);
CREATE INDEX hosts_org_vulns_open ON hosts (organization_id, vulns_open, id);
CREATE INDEX hosts_last_run_id ON hosts (last_run_id);
CREATE INDEX hosts_last_scan_id ON hosts (last_scan_id);

CREATE TABLE run_hosts (
    run_id           TEXT NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    host_id          TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL,
    scan_id          TEXT NOT NULL,
    ip               TEXT NOT NULL COLLATE NOCASE,
    ip_key           TEXT NOT NULL,
    hostname         TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    os               TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    status           TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    done             INTEGER NOT NULL DEFAULT 0,
    ports_open       INTEGER NOT NULL DEFAULT 0,
    count_high       INTEGER NOT NULL DEFAULT 0,
    count_medium     INTEGER NOT NULL DEFAULT 0,
    count_low        INTEGER NOT NULL DEFAULT 0,
    count_log        INTEGER NOT NULL DEFAULT 0,
    max_severity     REAL NOT NULL DEFAULT 0,
    started_at       TEXT NOT NULL,
    ended_at         TEXT,
    PRIMARY KEY (run_id, host_id)
);
CREATE INDEX run_hosts_host_started ON run_hosts (host_id, started_at);
CREATE INDEX run_hosts_run_ip_key ON run_hosts (run_id, ip_key, host_id);
CREATE INDEX run_hosts_run_ip ON run_hosts (run_id, ip);
CREATE INDEX run_hosts_run_hostname ON run_hosts (run_id, hostname);
CREATE INDEX run_hosts_run_severity ON run_hosts (run_id, max_severity, host_id);
CREATE INDEX run_hosts_run_ports ON run_hosts (run_id, ports_open, host_id);
CREATE INDEX run_hosts_run_status ON run_hosts (run_id, status);

CREATE TABLE run_ports (
    run_id           TEXT NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    host_id          TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    port             INTEGER NOT NULL,
    protocol         TEXT NOT NULL,
    state            TEXT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    service          TEXT NOT NULL DEFAULT '',
    product          TEXT NOT NULL DEFAULT '',
    version          TEXT NOT NULL DEFAULT '',
    extra_info       TEXT NOT NULL DEFAULT '',
    cpe              TEXT NOT NULL DEFAULT '',
    banner           TEXT NOT NULL DEFAULT '',
    tls              TEXT NOT NULL DEFAULT '',
    method           TEXT NOT NULL DEFAULT '',
    confidence       INTEGER NOT NULL DEFAULT 0,
    seen_at          TEXT NOT NULL,
    PRIMARY KEY (run_id, host_id, protocol, port)
);
CREATE INDEX run_ports_host ON run_ports (host_id);

CREATE TABLE findings (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scan_id          TEXT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    host_id          TEXT NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    ip               TEXT NOT NULL COLLATE NOCASE,
    ip_key           TEXT NOT NULL,
    hostname         TEXT NOT NULL DEFAULT '' COLLATE NOCASE,
    port             INTEGER NOT NULL DEFAULT 0,
    protocol         TEXT NOT NULL DEFAULT '',
    dedup_key        TEXT NOT NULL,
    check_id         TEXT NOT NULL,
    cve              TEXT NOT NULL DEFAULT '',
    name             TEXT NOT NULL COLLATE NOCASE,
    family           TEXT NOT NULL DEFAULT '',
    severity         REAL NOT NULL,
    cvss_vector      TEXT NOT NULL DEFAULT '',
    qod              INTEGER NOT NULL DEFAULT 0,
    pci_fail         INTEGER NOT NULL DEFAULT 0,
    kev              INTEGER NOT NULL DEFAULT 0,
    description      TEXT NOT NULL DEFAULT '',
    solution         TEXT NOT NULL DEFAULT '',
    evidence         TEXT NOT NULL DEFAULT '',
    status           TEXT NOT NULL CHECK (status IN ('open', 'fixed', 'reopened')),
    first_seen_at    TEXT NOT NULL,
    last_seen_at     TEXT NOT NULL,
    fixed_at         TEXT,
    first_run_id     TEXT NOT NULL,
    last_run_id      TEXT NOT NULL,
    fixed_run_id     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (scan_id, host_id, dedup_key)
);
-- Lists filter and sort on these; each ends in id, the list tiebreaker.
CREATE INDEX findings_org_status_severity ON findings (organization_id, status, severity, id);
CREATE INDEX findings_org_severity ON findings (organization_id, severity, id);
CREATE INDEX findings_org_last_seen ON findings (organization_id, last_seen_at, id);
CREATE INDEX findings_org_first_seen ON findings (organization_id, first_seen_at, id);
CREATE INDEX findings_org_ip_key ON findings (organization_id, ip_key, id);
CREATE INDEX findings_org_port ON findings (organization_id, port, severity, id);
CREATE INDEX findings_org_name ON findings (organization_id, name, id);
CREATE INDEX findings_org_cve ON findings (organization_id, cve);
CREATE INDEX findings_org_check ON findings (organization_id, check_id, status, host_id);
CREATE INDEX findings_org_kev ON findings (organization_id, severity) WHERE kev = 1;
CREATE INDEX findings_scan_pci_fail ON findings (scan_id, status, severity) WHERE pci_fail = 1;
CREATE INDEX findings_scan_port ON findings (scan_id, port, protocol, status, host_id);
CREATE INDEX findings_host_status ON findings (host_id, status, severity, pci_fail);
CREATE INDEX findings_scan_status ON findings (scan_id, status, severity, id);

CREATE TABLE run_findings (
    run_id           TEXT NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
    finding_id       TEXT NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    change           TEXT NOT NULL CHECK (change IN ('new', 'reopened', 'fixed')),
    PRIMARY KEY (run_id, finding_id)
);
CREATE INDEX run_findings_run_change ON run_findings (run_id, change);
CREATE INDEX run_findings_finding ON run_findings (finding_id);

-- Top Vulnerabilities: per check, the hosts and findings it is open on.
CREATE TABLE vuln_stats (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    check_id         TEXT NOT NULL,
    name             TEXT NOT NULL COLLATE NOCASE,
    severity         REAL NOT NULL,
    hosts            INTEGER NOT NULL,
    findings         INTEGER NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (organization_id, check_id)
);
CREATE INDEX vuln_stats_org_hosts ON vuln_stats (organization_id, hosts);
CREATE INDEX vuln_stats_org_severity ON vuln_stats (organization_id, severity, hosts);

-- Total Vulnerabilities trend: the open counts at the end of each day.
CREATE TABLE vuln_daily (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    day              TEXT NOT NULL,
    count_high       INTEGER NOT NULL,
    count_medium     INTEGER NOT NULL,
    count_low        INTEGER NOT NULL,
    count_log        INTEGER NOT NULL,
    PRIMARY KEY (organization_id, day)
);

-- +goose Down
DROP TABLE vuln_daily;
DROP TABLE vuln_stats;
DROP TABLE run_findings;
DROP TABLE findings;
DROP TABLE run_ports;
DROP TABLE run_hosts;
DROP TABLE hosts;
