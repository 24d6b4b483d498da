"""Portal tests: pages, health check, API schema."""
