"""Result storage: a SQLite database (WAL) of benchmark entries and their export to csv/json/md."""
