"""API bearer tokens and the roles they carry."""
