"""Engine tests: deployments, demo data, settings."""
