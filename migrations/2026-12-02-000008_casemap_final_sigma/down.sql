-- Not reversible in SQL: the previous folds, like the new ones, are computed only in Rust. The
-- same cards are marked again so that the previous server recomputes their `match_text` with
-- its own casemap when it migrates; `search_text`, `sort_name` and `address_folded` (which that
-- server does not re-index) keep the new folds, under which it still finds every name it found
-- before except words whose folded form differs (final sigma, ı, ẞ).
UPDATE contacts SET match_text = NULL
WHERE match_text IS NOT NULL
  AND (octet_length(vcard) <> char_length(vcard)
       OR vcard_version = 21
       OR strpos(upper(vcard), 'QUOTED-PRINTABLE') > 0
       OR EXISTS (SELECT 1 FROM contact_emails e
                  WHERE e.contact_id = contacts.id AND e.address ~ '\s'));
