-- Birthday, anniversary, websites and related people (`domain::details`), stored as one JSON
-- value per contact, and a free label on emails, phones and addresses.
--
-- Only Rust reads them from a card (`domain::vcard::details`), so `details` starts NULL — the
-- marker `store::reindex` looks for when the server migrates — on the cards that may carry any
-- of them or a label: a line naming BDAY, ANNIVERSARY, URL, RELATED or an extension property of
-- Apple (X-AB...), Evolution, KAddressBook or others. Every other card has none: '{}'.
ALTER TABLE contacts ADD COLUMN details jsonb;
ALTER TABLE contact_emails ADD COLUMN label text;
ALTER TABLE contact_phones ADD COLUMN label text;
ALTER TABLE contact_addresses ADD COLUMN label text;

UPDATE contacts SET details = '{}'
WHERE vcard !~* '(^|\n)([a-z0-9-]+\.)?(BDAY|ANNIVERSARY|URL|RELATED|X-AB|X-ANNIVERSARY|X-EVOLUTION-|X-KADDRESSBOOK-|X-SPOUSE)';
