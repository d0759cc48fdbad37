"""Launchers of real servers on loopback for tests: Dovecot, moto's S3 server, a Pushgateway.

Each module is imported on its own (``from shitshovela_testservers.dovecot import
DovecotServer``); importing this package starts nothing and imports none of them.
"""
