-- Account lifecycle: a user can be disabled (every credential and the password are refused
-- until enabled again; the data stays), and a token or app password can expire.
-- `credentials.last_used_at` already exists (2026-11-23-000001_accounts).

-- NULL: active. Set: refused at login since then (`rolodex user disable`).
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;

-- NULL: never expires. Compared with the database's clock, so every server process agrees.
ALTER TABLE credentials ADD COLUMN expires_at TIMESTAMPTZ;
