ALTER TABLE contacts DROP CONSTRAINT contacts_vcard_version_check;
