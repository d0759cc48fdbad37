"""Test tools for ShitShovela and its plugin authors (a dev-only distribution).

- `shitshovela_testkit.conformance`: ready-made pytest suites that check a
  source or a ticket system against the provider contracts.
- `shitshovela_testkit.fakes`: in-memory providers with a fault at any step,
  for engine tests and for testing your own hooks, and `fake_context`. They are
  never registered through entry points, so no user can select them.
- `shitshovela_testkit.faultproxy`: a TCP / HTTP proxy on loopback that injects
  network faults from a script.
- `shitshovela_testkit.standin`: `StandInServer`, the base of a stand-in HTTP
  server (an emulator of the system a provider talks to).
- `shitshovela_testkit.issuetracker`: a GitHub-like issue tracker (a stand-in
  server), a ticket system for it written on the core's helpers, and its
  conformance harness: the worked example of an HTTP ticket system.
- `shitshovela_testkit.openapicheck`, `shitshovela_testkit.specfindings`:
  an emulator's checks against its vendor's OpenAPI excerpt (openapi-core,
  the ``openapi`` extra) and what they found (`Violation`, `SpecFindings`,
  `CheckedEmulator`).
- `shitshovela_testkit.faultscript`: `FaultScript`, the faults a test
  schedules on an emulator (failed or lost writes, refusals, slow answers).
- `shitshovela_testkit.emulatorsuite`: pieces of an emulator's own tests.
- `shitshovela_testkit.tokenendpoint`: `TokenEndpoint`, a stand-in for the
  Microsoft identity platform's and Google's token endpoints (app-only grants,
  their error answers, RS256 tokens a test mail server can validate).
- `shitshovela_testkit.clock`: `ManualClock`, a clock that moves when told.
- `shitshovela_testkit.runs`: `run_once` (and `engine_for`): one engine run.
- `shitshovela_testkit.jobenv`: the environment of a ``shitshovela`` process.
- `shitshovela_testkit.pytest_plugin`: the fixtures pytest loads by itself.
"""
