-- Pairs of contacts a user said are different people: duplicate detection never suggests them
-- together again. Pairs are stored once, smaller id first; they go with either contact.
CREATE TABLE duplicate_dismissals (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    contact_a  BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_b  BIGINT NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, contact_a, contact_b),
    CHECK (contact_a < contact_b)
);
-- The cascades from contacts look pairs up by either side.
CREATE INDEX duplicate_dismissals_b_idx ON duplicate_dismissals (contact_b);
CREATE INDEX duplicate_dismissals_a_idx ON duplicate_dismissals (contact_a);
