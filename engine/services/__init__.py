"""Writes. Each service is named <entity>_<action>, takes keyword-only arguments, and
runs in one transaction."""
