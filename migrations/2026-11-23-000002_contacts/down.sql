DROP TABLE changes;
DROP TABLE group_members;
DROP TABLE contact_addresses;
DROP TABLE contact_phones;
DROP TABLE contact_emails;
DROP TABLE contacts;
-- pg_trgm is left installed: other schemas in the same database may use it.
