"""Test helpers for the Prometheus plugin: a real Pushgateway on loopback."""
