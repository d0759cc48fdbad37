"""Test tools for ShitShovela and its plugin authors.

- `shitshovela_testkit.conformance`: ready-made pytest suites that check a
  source or a ticket system against the provider contracts.
- `shitshovela_testkit.fakes`: in-memory providers with a fault at any
  step, for engine tests and for testing your own hooks. They are never
  registered through entry points, so no user can select them.
- `shitshovela_testkit.faultproxy`: a TCP proxy on loopback that injects
  network faults from a script.
"""
