"""The error hierarchy and the exit codes it maps to.

Every failure the job can name is one of these types. Providers raise them;
the engine decides what each means for the run; only the CLI turns one into
an exit code and a one-line message (`ExitCode`). Messages never carry a
secret: they are scrubbed again at the CLI boundary (I10), but a provider
should not put one there in the first place.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """The documented process exit codes (README, "Exit codes")."""

    #: The run ended normally: the source is drained, or the run stopped at its
    #: deadline (between steps) or at the per-run ticket cap with work left for the
    #: next run, every system answering.
    OK = 0
    #: A bug: an exception the job does not know. The traceback is logged, scrubbed.
    INTERNAL = 1
    #: Bad configuration or plugin selection; nothing was contacted.
    CONFIG = 2
    #: A system was unreachable, refused (auth, permissions) or did not answer before
    #: the deadline (`CutOff`), before anything changed; or it refuses what every item
    #: needs (`SetupError`), whatever changed before.
    UNREACHABLE = 3
    #: Reconcile failed; nothing new was created (I8).
    RECONCILE_FAILED = 4
    #: The drain failed and the run stopped at once (I8).
    DRAIN_FAILED = 5
    #: A create's outcome is unknown; it was not retried (I4). The next run's
    #: reconcile finds the ticket if it exists.
    OUTCOME_UNKNOWN = 6
    #: The watchdog ended the process just before its deadline (I5).
    WATCHDOG = 7


class ShitShovelaError(Exception):
    """Base of every error the job names. ``str(err)`` is a one-line, secret-free message."""

    exit_code: ExitCode = ExitCode.INTERNAL


class ConfigError(ShitShovelaError):
    """A setting is missing or invalid, or a plugin cannot be selected.

    ``problems`` holds one line per bad variable, each naming the variable and
    how to fix it.
    """

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class PluginError(ConfigError):
    """A plugin that was selected could not be loaded or built."""


class ProviderError(ShitShovelaError):
    """A provider call failed. Subclasses say how the engine must treat it."""


class Unreachable(ProviderError):
    """The system could not be reached, or refused us (auth, permission, TLS).

    Before the run changed anything this exits with `ExitCode.UNREACHABLE`.
    """

    exit_code = ExitCode.UNREACHABLE


class SetupError(Unreachable):
    """The system refuses what every item needs: a permission, a label, a setting.

    Raised when trying again cannot help until someone changes the setup (GitHub
    silently dropping the in-progress flag label from a new issue because the
    identity lacks push access): the run stops at once and exits with
    `ExitCode.UNREACHABLE` whatever it changed before, because the next run will
    fail the same way until the setup is fixed. The message names what to grant
    or set.
    """


class CutOff(Unreachable):
    """The run ended waiting on a system that did not answer: a call still in flight
    at the deadline (a hung, dripping or silent server, a TLS handshake that never
    completes), or a retry of a failing call that no longer fits in the time left.

    A run that stops this way achieved less than its time allowed because a
    system was down, so it must not exit 0 (README, "Exit codes"): like every
    `Unreachable` it exits with `ExitCode.UNREACHABLE` when nothing changed yet,
    else with the failing phase's code. Compare `DeadlineReached`, the clean stop
    *between* steps, or while the time left is too short for a call that the
    system would have answered (see `shitshovela_core.safety`, `FAIR_WAIT`).
    """


class TransientError(ProviderError):
    """A failure of an idempotent call that may succeed if tried again later."""


class TransferTooSlow(TransientError):
    """A download whose body was still arriving when the call's own timeout ran out.

    `shitshovela_core.HttpClient.download` raises it instead of trying again: the
    next try would take as long, so a body too large for the link at that timeout
    (a message's MIME of tens of megabytes) would take every try and then open the
    breaker, on every run. The caller names its fix (a longer timeout, or a smaller
    size limit). ``received`` is the bytes that had arrived, ``seconds`` the time
    the call had. A run's deadline that cuts a transfer is still a `CutOff`.
    """

    def __init__(self, message: str, *, received: int, seconds: float) -> None:
        super().__init__(message)
        #: Bytes of the body that had arrived (written to the caller's file).
        self.received = received
        #: Seconds the call was given (its timeout).
        self.seconds = seconds


class OutcomeUnknown(ProviderError):
    """A non-idempotent call (a create) may or may not have taken effect (I4).

    Raised on a timeout after the request was sent, a reset, or a 5xx answer.
    It is never retried: the run stops and the next reconcile finds the ticket.
    """

    exit_code = ExitCode.OUTCOME_UNKNOWN


class ItemRejected(ProviderError):
    """The ticket system refused this item's draft as invalid (I12).

    The engine sets the item aside (or stops, naming it): it is never retried
    and never dropped. A few rejections in a row stop the run, since a system
    that refuses every item is misconfigured; ``by_setting`` marks a refusal the
    operator asked for (GitHub's ``ATTACHMENTS=set_aside``), which sets the item
    aside without counting towards that.
    """

    def __init__(self, message: str, *, by_setting: bool = False) -> None:
        super().__init__(message)
        #: The provider's own settings refuse this item (not a sign of a broken setup).
        self.by_setting = by_setting


class SetAsideUnavailable(ProviderError):
    """The source has no place configured to set an item aside (I12)."""


class StopRun(ShitShovelaError):
    """A normal, clean stop decided by the engine (deadline, cap). Exit code 0."""

    exit_code = ExitCode.OK


class DeadlineReached(StopRun):
    """There is not enough time left for the next step (I5): a clean stop between
    steps, with every system answering. A system that did not answer in time is a
    `CutOff` instead."""
