-- The back-office console: staff and their sign-in, sessions, the audit
-- trail, published content versions and answers to 差评.
CREATE TABLE staff (
    username      text PRIMARY KEY,
    display_name  text NOT NULL,
    -- clerk (受理), author (content), supervisor (好差评)
    role          text NOT NULL CHECK (role IN ('clerk', 'author', 'supervisor')),
    password_hash text NOT NULL,            -- Argon2id, PHC string
    failed        integer NOT NULL DEFAULT 0,
    locked_until  bigint NOT NULL DEFAULT 0
);

CREATE TABLE console_sessions (
    token_hash text PRIMARY KEY,            -- SHA-256 of the cookie's token
    username   text NOT NULL REFERENCES staff (username) ON DELETE CASCADE,
    csrf       text NOT NULL,
    expires_at bigint NOT NULL
);

CREATE TABLE console_audit (
    seq    bigserial PRIMARY KEY,
    at     bigint NOT NULL,
    actor  text NOT NULL,
    action text NOT NULL,
    detail text NOT NULL
);

CREATE TABLE content_versions (
    seq          bigserial PRIMARY KEY,
    version      text NOT NULL,
    body         bytea NOT NULL,
    published_at bigint NOT NULL,
    published_by text NOT NULL
);

CREATE TABLE evaluation_answers (
    terminal_id text NOT NULL,
    id          text NOT NULL,
    note        text NOT NULL,
    answered_by text NOT NULL,
    answered_at bigint NOT NULL,
    PRIMARY KEY (terminal_id, id)
);
