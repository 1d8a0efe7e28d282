"""Shared pytest configuration: fixture notebooks are data for tests, not labs to run."""

collect_ignore_glob = ["fixtures/*", "fixtures/**/*"]
