"""The ``shitshovela`` command, and ``python -m shitshovela_core``.

The process is guarded before anything heavy is imported
(`shitshovela_core.hardstop`): a signal from here on ends it with a last line
and 128 + the signal, and the watchdog keeps it within ``MAX_RUNTIME`` from
process start, start-up included. Then the command line is imported and run.
"""

from __future__ import annotations


def main() -> None:
    """Guard the process, then run the command line (`shitshovela_core.cli`)."""
    from .hardstop import guard_process

    guard_process()
    from .cli import cli

    cli()


if __name__ == "__main__":
    main()
