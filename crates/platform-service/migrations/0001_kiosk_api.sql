-- The kiosk API's storage. Records are keyed by the terminal that signed
-- them too: an id is one terminal's idempotency key, kept forever.
CREATE TABLE records (
    kind         text   NOT NULL,
    terminal_id  text   NOT NULL,
    id           text   NOT NULL,
    service_code text,
    received_at  bigint NOT NULL,
    deliveries   integer NOT NULL DEFAULT 1,
    -- The record as the kiosk sent it, AES-256-GCM under the platform's
    -- data key (personal data never lies in the database in clear).
    sealed       bytea  NOT NULL,
    key_id       text   NOT NULL,
    -- What queues and statistics need, without personal data.
    facts        jsonb  NOT NULL DEFAULT '{}',
    PRIMARY KEY (kind, terminal_id, id)
);
CREATE INDEX records_kind_id ON records (kind, id);
CREATE INDEX records_kind_received ON records (kind, received_at);

-- Processing steps of an application, as its progress query shows them.
CREATE TABLE progress (
    seq        bigserial PRIMARY KEY,
    receipt_no text   NOT NULL,
    at         bigint NOT NULL,
    status     text   NOT NULL,
    note       text   NOT NULL,
    actor      text
);
CREATE INDEX progress_receipt ON progress (receipt_no, seq);

-- Nonces inside the replay window. UNLOGGED: a crash of the database
-- forgets them (a request captured just before could be replayed until its
-- timestamp leaves the window), worth not writing WAL for every request.
CREATE UNLOGGED TABLE nonces (
    terminal_id text   NOT NULL,
    nonce       text   NOT NULL,
    ts          bigint NOT NULL,
    PRIMARY KEY (terminal_id, nonce)
);
CREATE INDEX nonces_ts ON nonces (ts);

-- The documents every kiosk pulls (catalogue, content package).
CREATE TABLE documents (
    name       text   PRIMARY KEY,
    body       bytea  NOT NULL,
    etag       text   NOT NULL,
    updated_at bigint NOT NULL
);
