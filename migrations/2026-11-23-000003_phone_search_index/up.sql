-- Phone search matches the digits a user typed against both the number as entered and its
-- E.164 form ("+1 (999) 999-9999" finds "(999) 999-9999" through "+19999999999"); the E.164
-- side needs a trigram index too, or the OR falls back to a scan of every phone row.
CREATE INDEX contact_phones_normalized_trgm_idx ON contact_phones USING gin (normalized gin_trgm_ops);
