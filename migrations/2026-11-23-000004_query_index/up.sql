-- CardDAV addressbook-query without parsing every card: `match_text` holds the value of every
-- text property of the card, folded with i;unicode-casemap (lower case, NFKD), one property per
-- line. A text-match needle found in it makes a card a candidate; candidates are then matched
-- exactly. Binary properties (PHOTO, LOGO, SOUND, KEY) are left out.
--
-- NULL means "not indexed yet": rows written before this migration are filled in by the server
-- at startup (the value needs the vCard parser, so SQL cannot compute it here).
ALTER TABLE contacts ADD COLUMN match_text TEXT;
CREATE INDEX contacts_match_trgm_idx ON contacts USING gin (match_text gin_trgm_ops)
    WHERE deleted_at IS NULL;
