-- WebDAV dead properties (RFC 4918 4.1, 9.2): properties a client sets that the server stores
-- and returns verbatim without interpreting them, kept per address book (contact_id NULL) and
-- per card. `xml` is the whole property element as the client sent it, with the namespace
-- declarations it needs, so it can be written back into any multistatus as is.
CREATE TABLE dead_properties (
    id              BIGSERIAL PRIMARY KEY,
    address_book_id BIGINT NOT NULL REFERENCES address_books (id) ON DELETE CASCADE,
    contact_id      BIGINT REFERENCES contacts (id) ON DELETE CASCADE,
    namespace       TEXT NOT NULL,
    name            TEXT NOT NULL,
    xml             TEXT NOT NULL
);
-- One value per property name and resource; a book's own properties have contact_id NULL,
-- which the expression folds to 0 (no contact has id 0) so they are unique too.
CREATE UNIQUE INDEX dead_properties_resource_name_idx
    ON dead_properties (address_book_id, COALESCE(contact_id, 0), namespace, name);
-- The cascade from contacts, and a card's properties, are looked up by contact.
CREATE INDEX dead_properties_contact_idx ON dead_properties (contact_id)
    WHERE contact_id IS NOT NULL;
