ALTER TABLE contact_addresses DROP COLUMN label;
ALTER TABLE contact_phones DROP COLUMN label;
ALTER TABLE contact_emails DROP COLUMN label;
ALTER TABLE contacts DROP COLUMN details;
