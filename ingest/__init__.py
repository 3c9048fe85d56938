"""ingest: read → clean → chunk → embed → an index generation on disk, with SQLite as the source of truth."""
