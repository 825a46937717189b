-- Counting matches (GraphQL `totalCount`) is an index-only scan of contacts_book_kind_sort_idx
-- only where the visibility map says the heap pages are all-visible; the defaults vacuum a
-- table after 20% of it changed, so after a bulk upload (each write leaves one dead row
-- version behind, from stamping its revision) counts read the heap for a long time. Vacuum
-- after 2% instead: on 10,000 contacts, every ~250 writes, a few milliseconds each.
ALTER TABLE contacts SET (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_insert_scale_factor = 0.02
);
