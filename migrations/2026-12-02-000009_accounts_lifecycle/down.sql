-- A disabled user becomes active again and expiring credentials stop expiring: the previous
-- server cannot refuse them.
ALTER TABLE credentials DROP COLUMN expires_at;
ALTER TABLE users DROP COLUMN disabled_at;
