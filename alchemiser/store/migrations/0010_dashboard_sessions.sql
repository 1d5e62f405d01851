-- 0010 dashboard sessions (web/dashboard/sessions.py, store/dashboard_sessions.py): operators stay logged in across
-- a daemon restart. Only a SHA-256 of the session cookie is stored, never the cookie itself; the CSRF token is
-- derived from the cookie, so it is not stored either. token_fingerprint is a salted scrypt of the control token
-- the session was opened with (a token change ends the session). Times are ISO-8601 UTC (wall time).

CREATE TABLE dashboard_sessions (
    token_hash         TEXT PRIMARY KEY,       -- hex SHA-256 of the session cookie
    token_fingerprint  TEXT NOT NULL,
    client             TEXT NOT NULL,          -- the address that logged in
    created_at         TEXT NOT NULL,
    last_seen_at       TEXT NOT NULL,
    expires_at         TEXT NOT NULL           -- absolute end (created_at + http.session_hours)
) WITHOUT ROWID;
CREATE INDEX dashboard_sessions_expires_at ON dashboard_sessions (expires_at);

-- One random salt per store for the control-token fingerprints.
CREATE TABLE dashboard_session_salt (id INTEGER PRIMARY KEY CHECK (id = 1), salt TEXT NOT NULL);
INSERT INTO dashboard_session_salt (id, salt) VALUES (1, lower(hex(randomblob(16))));
