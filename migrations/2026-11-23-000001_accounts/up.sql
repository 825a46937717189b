-- Accounts: users, their credentials (API tokens and app passwords, stored hashed) and address
-- books. Each address book carries the revision counter that CardDAV sync tokens, getctag and
-- the GraphQL change feed all read.

CREATE TABLE users (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    -- argon2id PHC string
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE credentials (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'token' (Authorization: Bearer) or 'app_password' (Basic, for CardDAV clients)
    kind         TEXT NOT NULL CHECK (kind IN ('token', 'app_password')),
    label        TEXT NOT NULL,
    -- SHA-256 of the secret, hex. Secrets are 256-bit random, so a fast hash is enough and lets
    -- us look the credential up by hash in one indexed query.
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ
);
CREATE INDEX credentials_user_idx ON credentials (user_id);

CREATE TABLE address_books (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- last path segment in CardDAV URLs; never empty (Evolution breaks on `//`)
    slug        TEXT NOT NULL CHECK (slug ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    display_name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- bumped by every write to a card of this book, in the same transaction
    revision    BIGINT NOT NULL DEFAULT 0,
    -- the lowest revision the change log still covers; older sync tokens are invalid
    oldest_revision BIGINT NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (user_id, slug)
);
