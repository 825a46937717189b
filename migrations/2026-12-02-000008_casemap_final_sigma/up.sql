-- The text folds now treat every case variant of a letter as one (Greek σ/ς/Σ — "ΓΙΏΡΓΟΣ" found
-- nothing stored as "Γιώργος" — and ſ/s, ı/i, ϐ/β, ϑ/θ, ϕ/φ, ϖ/π, ϰ/κ, ϱ/ρ, ϵ/ε, µ/μ, the
-- Kelvin sign, ...), `match_text` decomposes compatibility characters before folding case
-- (℡ = tel), and `contact_emails.address_folded` is folded like the search words it is matched
-- against (accents removed) instead of only lower-cased.
--
-- Only Rust computes these folds (`domain::text`), so this marks the rows whose stored forms may
-- differ, and the server recomputes them when it migrates (`store::reindex`): `match_text` NULL
-- is the marker, and for each marked card `match_text`, `search_text`, `sort_name` and its
-- emails' `address_folded` are recomputed by the code that writes them.
--
-- Marked: cards with any non-ASCII text, and cards whose values can decode to non-ASCII from
-- ASCII text (vCard 2.1, quoted-printable). The folds map ASCII exactly as before, so every
-- other card keeps its values — except an email address with white space inside, which the
-- search fold collapses; those cards are marked too.
UPDATE contacts SET match_text = NULL
WHERE match_text IS NOT NULL
  AND (octet_length(vcard) <> char_length(vcard)
       OR vcard_version = 21
       OR strpos(upper(vcard), 'QUOTED-PRINTABLE') > 0
       OR EXISTS (SELECT 1 FROM contact_emails e
                  WHERE e.contact_id = contacts.id AND e.address ~ '\s'));
