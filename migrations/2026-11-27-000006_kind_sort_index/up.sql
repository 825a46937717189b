-- GraphQL lists one kind of card at a time (contacts, or groups) by name. With the kind second,
-- a page walks this index in order and stops at its size, the groups of a book are found
-- without visiting its contacts, and `totalCount` is an index-only scan. (CardDAV lists both
-- kinds together by name and keeps contacts_book_sort_idx.)
CREATE INDEX contacts_book_kind_sort_idx ON contacts (address_book_id, kind, sort_name, id)
    WHERE deleted_at IS NULL;
