"""The REST API for systems and scripts (/api/v1/), with its own tables (API tokens)."""
