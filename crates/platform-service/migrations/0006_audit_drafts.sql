-- A kiosk whose own check of its hash-chained admin audit log fails (a line
-- changed or removed) raises an alert while it stays broken.
INSERT INTO alert_rules (rule, enabled, threshold) VALUES ('audit_broken', true, 0)
    ON CONFLICT (rule) DO NOTHING;

-- Packages content authors built in the console from their sources, kept
-- (unsigned) to preview and publish; published ones go to content_versions.
CREATE TABLE content_drafts (
    id       bigserial PRIMARY KEY,
    body     text   NOT NULL,
    version  text   NOT NULL,
    sources  text   NOT NULL,
    built_at bigint NOT NULL,
    built_by text   NOT NULL
);

-- A package may be published to some stations only (NULL: to all). A
-- terminal is served the newest package published to its station or to
-- all, whichever came later.
ALTER TABLE content_versions ADD COLUMN stations text[];

-- A supervisor's follow-up of a 办不成事 report (whom they called, what was
-- done), once per report.
CREATE TABLE report_followups (
    terminal_id text   NOT NULL,
    id          text   NOT NULL,
    note        text   NOT NULL,
    answered_by text   NOT NULL,
    answered_at bigint NOT NULL,
    PRIMARY KEY (terminal_id, id)
);

-- The last audit-log head each kiosk reported and the time of its line:
-- the next heartbeat's lines must go on from it (else audit_rewritten).
ALTER TABLE kiosks ADD COLUMN audit_head text;
ALTER TABLE kiosks ADD COLUMN audit_head_at text;
INSERT INTO alert_rules (rule, enabled, threshold) VALUES ('audit_rewritten', true, 0)
    ON CONFLICT (rule) DO NOTHING;

-- Each terminal's key for the keyed hashes of ID numbers in its outbox,
-- handed to the kiosk at start and kept there in memory only.
CREATE TABLE terminal_lookup_keys (
    terminal_id text  PRIMARY KEY,
    key         bytea NOT NULL
);
