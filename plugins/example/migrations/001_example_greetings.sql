-- The example domain's one table: every greeting example.hello wrote.
-- Tables of a domain start with the domain's name and an underscore.
CREATE TABLE example_greetings (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    message    TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
