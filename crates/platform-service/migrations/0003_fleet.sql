-- Fleet operations: stations, the last known state of every kiosk (from
-- its heartbeats), restarts, alert rules, alerts and their webhook
-- deliveries. A county technician (role `technician`) works here.
ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check
    CHECK (role IN ('clerk', 'author', 'supervisor', 'technician'));

CREATE TABLE stations (
    code          text PRIMARY KEY,        -- 12-digit division code (区划代码)
    name          text NOT NULL,
    address       text NOT NULL DEFAULT '',
    -- Opening hours in the station's zone, "HH:MM-HH:MM"; NULL: 24 hours.
    -- The offline alert counts only inside them.
    opening_hours text,
    created_at    bigint NOT NULL,
    created_by    text NOT NULL,
    -- The number of the station's next terminal (T + code + two digits).
    next_terminal integer NOT NULL DEFAULT 1
);

-- One-time enrollment codes, kept as their SHA-256 (the code itself is
-- shown once, on the technician's sheet).
CREATE TABLE enrollment_codes (
    code_hash    text PRIMARY KEY,
    station_code text   NOT NULL REFERENCES stations (code),
    created_at   bigint NOT NULL,
    created_by   text   NOT NULL,
    expires_at   bigint NOT NULL,
    used_at      bigint,
    terminal_id  text
);

-- Enrolled terminals and the public half of the key each generated; a
-- replaced terminal's key stops working.
CREATE TABLE terminals (
    terminal_id  text PRIMARY KEY,
    station_code text   NOT NULL REFERENCES stations (code),
    algorithm    text   NOT NULL,
    public_key   bytea  NOT NULL,
    enrolled_at  bigint NOT NULL,
    replaced_by  text
);

-- One row per kiosk, replaced by each newer heartbeat (an older one
-- drained late from a kiosk's outbox changes nothing).
CREATE TABLE kiosks (
    terminal_id         text PRIMARY KEY,
    station_code        text,
    last_heartbeat_at   bigint NOT NULL,   -- the heartbeat's own time
    last_received_at    bigint NOT NULL,   -- when the platform got it
    status              text NOT NULL,     -- ok / degraded / out_of_service
    devices             jsonb NOT NULL DEFAULT '{}',
    queue_depth         bigint NOT NULL DEFAULT 0,
    oldest_pending_secs bigint,
    free_disk_bytes     bigint NOT NULL DEFAULT 0,
    total_disk_bytes    bigint,
    version             text NOT NULL DEFAULT '',
    config_version      text,
    content_version     text,
    content_refused     text,
    uptime_secs         bigint NOT NULL DEFAULT 0
);
CREATE INDEX kiosks_station ON kiosks (station_code);

-- A restart is seen when a kiosk's uptime goes backwards between two
-- heartbeats; kept 7 days for "restarts in the last hour / 24 h".
CREATE TABLE kiosk_restarts (
    terminal_id text   NOT NULL,
    at          bigint NOT NULL,
    PRIMARY KEY (terminal_id, at)
);

-- The rules and their thresholds (seconds, percent or a count, by rule).
CREATE TABLE alert_rules (
    rule      text PRIMARY KEY,
    enabled   boolean NOT NULL,
    threshold bigint NOT NULL
);
INSERT INTO alert_rules (rule, enabled, threshold) VALUES
    ('offline', true, 900),
    ('paper_out', true, 0),
    ('paper_near_end', true, 0),
    ('queue_stale', true, 3600),
    ('disk_low', true, 10),
    ('restarts', true, 3),
    ('device_fault', true, 0),
    ('content_refused', true, 0);

-- An alert is open until its condition clears; at most one open alert per
-- kiosk and rule, whichever instance saw it first.
CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    terminal_id text   NOT NULL,
    rule        text   NOT NULL,
    detail      text   NOT NULL,
    opened_at   bigint NOT NULL,
    closed_at   bigint
);
CREATE UNIQUE INDEX alerts_one_open ON alerts (terminal_id, rule) WHERE closed_at IS NULL;
CREATE INDEX alerts_opened ON alerts (opened_at);

-- Each opening and closing, to be POSTed to the county's webhook by
-- whichever instance takes it first (FOR UPDATE SKIP LOCKED).
CREATE TABLE alert_events (
    seq          bigserial PRIMARY KEY,
    alert_id     bigint NOT NULL REFERENCES alerts (id),
    event        text   NOT NULL CHECK (event IN ('opened', 'closed')),
    at           bigint NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    next_try_at  bigint NOT NULL DEFAULT 0,
    delivered_at bigint,
    last_error   text
);
CREATE INDEX alert_events_pending ON alert_events (next_try_at) WHERE delivered_at IS NULL;

-- Small settings a technician changes in the console (the webhook URL).
CREATE TABLE fleet_settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Commands a technician sends a kiosk; handed out once on its next poll,
-- answered with a result (a self-test's findings, the masked logs).
CREATE TABLE kiosk_commands (
    id           bigserial PRIMARY KEY,
    terminal_id  text   NOT NULL,
    kind         text   NOT NULL,
    issued_at    bigint NOT NULL,
    issued_by    text   NOT NULL,
    expires_at   bigint NOT NULL,
    delivered_at bigint,
    done_at      bigint,
    ok           boolean,
    result       text
);
CREATE INDEX kiosk_commands_waiting ON kiosk_commands (terminal_id) WHERE delivered_at IS NULL;

-- Configuration documents a technician wrote for a station (every kiosk
-- there) or one kiosk (laid over its station's): kiosk.toml fragments,
-- checked as `bianmin config check` checks. The newest of each is in
-- force; a rollback is a new version with an older text.
CREATE TABLE config_documents (
    seq        bigserial PRIMARY KEY,
    scope      text   NOT NULL CHECK (scope IN ('station', 'kiosk')),
    target     text   NOT NULL,             -- station code or terminal id
    body       text   NOT NULL,
    created_at bigint NOT NULL,
    created_by text   NOT NULL,
    note       text   NOT NULL DEFAULT ''
);
CREATE INDEX config_documents_target ON config_documents (scope, target, seq DESC);

-- What each kiosk last said it did with a configuration version.
CREATE TABLE kiosk_config_state (
    terminal_id text PRIMARY KEY,
    version     text    NOT NULL,
    ok          boolean NOT NULL,
    message     text    NOT NULL,
    at          bigint  NOT NULL
);
