-- ANALYZE of contacts (autovacuum runs it after every ~10% of new rows) spent most of its time
-- sampling and sorting the two largest columns, which no query compares by value: the card text
-- itself and the match text (only searched for a contained needle, where the default estimate
-- of a `LIKE '%...%'` already leads the planner to the trigram index). Without statistics for
-- them, ANALYZE is much cheaper during a bulk upload.
ALTER TABLE contacts ALTER COLUMN vcard SET STATISTICS 0;
ALTER TABLE contacts ALTER COLUMN match_text SET STATISTICS 0;
