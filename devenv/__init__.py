"""Local development environment: an embedded PostgreSQL and demo store data."""
