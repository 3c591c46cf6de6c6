-- +goose Up
-- "What is new on port 443": the port index also holds when each finding was
-- last seen, so a port and severity filter sorted by recency picks a page's
-- ids from the index alone, however deep the page.
CREATE INDEX findings_org_port_seen ON findings (organization_id, port, severity, last_seen_at, id);
DROP INDEX findings_org_port;

-- +goose Down
CREATE INDEX findings_org_port ON findings (organization_id, port, severity, id);
DROP INDEX findings_org_port_seen;
