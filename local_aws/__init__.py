"""Local AWS endpoint: moto's S3 (and friends) plus a Personalize-compatible service."""
