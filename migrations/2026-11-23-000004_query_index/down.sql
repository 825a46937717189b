DROP INDEX contacts_match_trgm_idx;
ALTER TABLE contacts DROP COLUMN match_text;
