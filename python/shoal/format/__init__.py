"""The Deep Lake v3 on-disk format: keys, JSON metas, version control, htypes."""
