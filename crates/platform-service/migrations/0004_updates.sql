-- Staged software updates: each station follows a channel (canary kiosks
-- try a release first, stable ones get it once it proved itself) and may
-- restrict installations to a daily maintenance window; the releases
-- published to the platform's signed APT repository and the channels
-- holding them; what each kiosk said about its installations.
ALTER TABLE stations
    ADD COLUMN channel text NOT NULL DEFAULT 'stable'
        CHECK (channel IN ('canary', 'stable')),
    -- Station time, 'HH:MM'; both or neither (start later than end
    -- crosses midnight).
    ADD COLUMN window_start text,
    ADD COLUMN window_end   text,
    ADD CONSTRAINT stations_window_both
        CHECK ((window_start IS NULL) = (window_end IS NULL));

-- One row per Debian version of the package `bianmin`. A channel holds
-- every version that was put in it (apt can then go back to an older one
-- for a rollback); what it offers is the newest, by `rank`: the versions'
-- order as dpkg compares them, renumbered when a version is added.
CREATE TABLE releases (
    version       text PRIMARY KEY,
    rank          integer NOT NULL,
    added_at      bigint  NOT NULL,
    added_by      text    NOT NULL,
    canary_since  bigint,
    stable_since  bigint,
    -- Who promoted it to stable: a member of staff, or 'auto' (the fleet
    -- watch, after the healthy hours set in the console).
    promoted_by   text
);

-- The .deb files of a version, one per architecture, in the repository's
-- pool/main.
CREATE TABLE release_files (
    version      text   NOT NULL REFERENCES releases (version),
    architecture text   NOT NULL,
    file_name    text   NOT NULL UNIQUE,
    sha256       text   NOT NULL,
    size         bigint NOT NULL,
    uploaded_at  bigint NOT NULL,
    PRIMARY KEY (version, architecture)
);

-- Each kiosk's latest installation report, on its fleet row (made by its
-- first heartbeat; a report before that is kept in the history only).
ALTER TABLE kiosks
    ADD COLUMN update_version text,
    ADD COLUMN update_from    text,
    ADD COLUMN update_outcome text
        CHECK (update_outcome IN ('downloaded', 'healthy', 'rolled_back', 'failed')),
    ADD COLUMN update_detail  text,
    ADD COLUMN update_at      bigint;

-- Every report, for the release page's counts and automatic promotion.
CREATE TABLE update_reports (
    seq          bigserial PRIMARY KEY,
    terminal_id  text   NOT NULL,
    from_version text   NOT NULL,
    to_version   text   NOT NULL,
    outcome      text   NOT NULL
        CHECK (outcome IN ('downloaded', 'healthy', 'rolled_back', 'failed')),
    detail       text   NOT NULL,
    at           bigint NOT NULL
);
CREATE INDEX update_reports_to ON update_reports (to_version, outcome);
CREATE INDEX update_reports_terminal ON update_reports (terminal_id, seq DESC);

INSERT INTO alert_rules (rule, enabled, threshold) VALUES ('update_failed', true, 0);
