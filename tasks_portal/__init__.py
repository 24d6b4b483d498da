"""The portal: pages for people, the REST API for systems."""
