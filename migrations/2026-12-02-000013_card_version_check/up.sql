-- contacts.vcard_version holds the stored card's version as 21, 30 or 40 (src/db/types.rs); the
-- kind columns were checked from the start (000002), the version was not. NOT VALID: new and
-- updated rows are checked, existing rows are not scanned under an exclusive lock (every row
-- written so far holds one of the three, and the reader returns a typed error, not a default,
-- for anything else).
ALTER TABLE contacts
    ADD CONSTRAINT contacts_vcard_version_check CHECK (vcard_version IN (21, 30, 40)) NOT VALID;
