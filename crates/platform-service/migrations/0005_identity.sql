-- Progress across stations: an application is found by its applicant's ID
-- number through a keyed hash (HMAC under a key derived from the data key;
-- the number itself never lies in the database in clear).
ALTER TABLE records ADD COLUMN resident_key bytea;
CREATE INDEX records_resident ON records (resident_key, received_at)
    WHERE resident_key IS NOT NULL;

-- Personal codes (一码通办) the issuer handed out: only the SHA-256 of the
-- token is kept; a code is spent by its first verification.
CREATE TABLE identity_codes (
    token_key  text   PRIMARY KEY,
    scheme     text   NOT NULL,
    person     bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint,
    used_by    text
);
