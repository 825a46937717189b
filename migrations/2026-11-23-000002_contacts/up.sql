-- Contacts (individuals and groups alike: groups are cards too), the typed projection of each
-- stored vCard, group membership and the change log.
--
-- The stored vCard text is the wire truth; every other column here is derived from it in the
-- same transaction that stores it.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE contacts (
    id              BIGSERIAL PRIMARY KEY,
    address_book_id BIGINT NOT NULL REFERENCES address_books (id) ON DELETE CASCADE,
    uid             TEXT NOT NULL,
    -- CardDAV resource name (last path segment, decoded), unique among live cards of a book
    href            TEXT NOT NULL,
    kind            TEXT NOT NULL DEFAULT 'individual' CHECK (kind IN ('individual', 'group')),
    vcard           TEXT NOT NULL,
    -- 21, 30 or 40: the version the card was stored in (served as-is unless negotiated)
    vcard_version   SMALLINT NOT NULL,
    etag            TEXT NOT NULL,
    -- address-book revision of the last change to this card
    revision        BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- tombstone: set on delete; the row keeps uid/href so sync feeds can report the deletion
    deleted_at      TIMESTAMPTZ,

    display_name         TEXT,
    prefix               TEXT,
    first_name           TEXT,
    middle_name          TEXT,
    last_name            TEXT,
    suffix               TEXT,
    phonetic_first_name  TEXT,
    phonetic_middle_name TEXT,
    phonetic_last_name   TEXT,
    nickname             TEXT,
    company              TEXT,
    department           TEXT,
    job_title            TEXT,
    username             TEXT,
    avatar_url           TEXT,
    has_inline_photo     BOOLEAN NOT NULL DEFAULT false,
    conversation_id      TEXT,
    last_active_at       TIMESTAMPTZ,
    public_key           TEXT,
    owner_identity       TEXT,
    drop_urls            TEXT[] NOT NULL DEFAULT '{}',
    module_data          JSONB NOT NULL DEFAULT '{}',
    categories           TEXT[] NOT NULL DEFAULT '{}',
    note                 TEXT,
    -- case- and accent-folded name parts, nickname, company, display name and username, space
    -- separated: what free-text search matches against (folding is done in Rust, so no
    -- `unaccent` extension is needed on the server)
    search_text          TEXT NOT NULL DEFAULT '',
    -- folded "last first middle" (or display name) for ordering by name
    sort_name            TEXT NOT NULL DEFAULT ''
);

CREATE UNIQUE INDEX contacts_live_uid_idx ON contacts (address_book_id, uid) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX contacts_live_href_idx ON contacts (address_book_id, href) WHERE deleted_at IS NULL;
CREATE INDEX contacts_book_sort_idx ON contacts (address_book_id, sort_name, id) WHERE deleted_at IS NULL;
CREATE INDEX contacts_book_updated_idx ON contacts (address_book_id, updated_at, id);
CREATE INDEX contacts_search_trgm_idx ON contacts USING gin (search_text gin_trgm_ops);
CREATE INDEX contacts_categories_idx ON contacts USING gin (categories);

CREATE TABLE contact_emails (
    contact_id     BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('primary', 'alternate')),
    address        TEXT NOT NULL,
    -- lower-cased address for lookups
    address_folded TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_emails_folded_idx ON contact_emails (address_folded text_pattern_ops);
CREATE INDEX contact_emails_trgm_idx ON contact_emails USING gin (address_folded gin_trgm_ops);

CREATE TABLE contact_phones (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('home', 'business', 'mobile', 'fax', 'pager', 'other')),
    number     TEXT NOT NULL,
    -- E.164 when the number parses
    normalized TEXT,
    -- ASCII digits of the number as entered, for "any format" phone search
    digits     TEXT NOT NULL,
    PRIMARY KEY (contact_id, position)
);
CREATE INDEX contact_phones_normalized_idx ON contact_phones (normalized);
CREATE INDEX contact_phones_digits_trgm_idx ON contact_phones USING gin (digits gin_trgm_ops);

CREATE TABLE contact_addresses (
    contact_id BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('home', 'business', 'other')),
    street     TEXT,
    city       TEXT,
    state      TEXT,
    zip        TEXT,
    country    TEXT,
    PRIMARY KEY (contact_id, position)
);

-- Members of a group card, as the card references them (`urn:uuid:<uid>` or a bare UID). Joined
-- to contacts by (address_book_id, uid) so a member card may arrive after its group.
CREATE TABLE group_members (
    group_id   BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    member_ref TEXT NOT NULL,
    member_uid TEXT NOT NULL,
    PRIMARY KEY (group_id, position)
);
CREATE INDEX group_members_uid_idx ON group_members (member_uid);

-- One row per write, in revision order per book: CardDAV sync-collection, GraphQL changes(since:)
-- and subscriptions all read this.
CREATE TABLE changes (
    id              BIGSERIAL PRIMARY KEY,
    address_book_id BIGINT NOT NULL REFERENCES address_books (id) ON DELETE CASCADE,
    revision        BIGINT NOT NULL,
    contact_id      BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    uid             TEXT NOT NULL,
    href            TEXT NOT NULL,
    op              TEXT NOT NULL CHECK (op IN ('put', 'delete')),
    changed_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (address_book_id, revision, contact_id)
);
