"""A fault-injecting TCP / HTTP proxy for tests.

:class:`FaultProxy` listens on ``127.0.0.1`` (a free port chosen by the OS), forwards every
connection to an upstream ``(host, port)`` and, following a *script*, injects network faults:
resets, silent closes, delays, slow drips, hangs and canned HTTP answers.  It runs its own
asyncio event loop in a background thread, so it can be used from ordinary synchronous tests.

Faults are plain data (frozen dataclasses), so a test reads as a list of faults::

    from shitshovela_testkit.faultproxy import Answer, FaultProxy, Reset, Script

    script = Script(http={3: Reset(after_forward=True), 5: Answer(429, retry_after=2)})
    with FaultProxy(upstream=("127.0.0.1", 8080), script=script) as proxy:
        client = httpx.Client(base_url=proxy.url)
        ...  # request 3 reaches the server, but its response is lost (TCP RST)
        assert [e.request for e in proxy.responses] == [1, 2, 3, 4]

For a raw protocol such as IMAP, select faults per *connection* instead::

    with FaultProxy(upstream=imap_addr, mode="tcp", script=[Pass(), ResetAfterBytes(4096)]):
        ...  # the 2nd connection is reset after the server sent 4096 bytes

Selecting faults
----------------
A :class:`Script` maps 1-based numbers to faults:

* ``Script.http[n]`` applies to the *n*-th HTTP request, counted across all connections
  (``mode="http"`` only).  Requests on a keep-alive connection are counted one by one.
* ``Script.connections[n]`` applies to the *n*-th accepted TCP connection (both modes).
* ``Script.default`` applies to everything not listed: to requests in ``mode="http"``, to
  connections in ``mode="tcp"``.

A plain list ``[f1, f2, ...]`` may be passed wherever a script is expected; ``f1`` applies to
request 1 (``mode="http"``) or connection 1 (``mode="tcp"``), and so on; everything after the
list passes through.  Replace the script at any time with :meth:`FaultProxy.set_script`; it
takes effect for the next connection or request.

What each fault does
--------------------
==================================  ===========================================================
Fault                               Effect
==================================  ===========================================================
``Pass()``                          Forward transparently.
``Delay(s)``                        Per request: wait *s* seconds, then forward the request.
                                    Per connection: wait *s* seconds before connecting upstream
                                    (nothing is forwarded in either direction meanwhile).
``Reset(after_forward=False)``      Reset the client connection (RST, ``SO_LINGER`` 0) as soon
                                    as the request head (per connection: the connection)
                                    arrives; nothing reaches the upstream.
``Reset(after_forward=True)``       Forward the request, read the upstream's complete response,
                                    discard it and reset the client: the server committed the
                                    request but the client never sees the answer.  Per raw
                                    connection: reset as soon as the upstream sends anything.
``Close(after_forward=...)``        Like :class:`Reset` but closes silently with a FIN.
``Drip(bytes_per_second)``          Forward the upstream's response (status line, headers and
                                    body) one byte at a time at that rate.  Per connection: drip
                                    everything the upstream sends.
``Hang()``                          Accept and never answer: keep the socket open, read and
                                    ignore whatever the client sends.  Per connection this is
                                    also a TLS server that never completes its handshake.
``Answer(status, ...)``             Answer the HTTP request from the proxy (e.g. 429/503 with
                                    ``Retry-After``) without forwarding it upstream.
``ResetAfterBytes(n)``              Forward, but reset the client once *n* bytes of the response
                                    (per raw connection: of everything the upstream sends) have
                                    been delivered, e.g. in the middle of a large IMAP FETCH.
==================================  ===========================================================

A connection-level fault in ``mode="http"`` works as follows: ``Hang``, ``Delay`` and
``Reset``/``Close`` with ``after_forward=False`` act when the connection is accepted; all
other faults (``Drip``, ``Answer``, ``ResetAfterBytes``, ``Reset``/``Close`` with
``after_forward=True``) apply to every request on that connection that has no entry of its own
in ``Script.http``.

Observing what happened
-----------------------
``proxy.events`` is a thread-safe snapshot of :class:`ConnectionEvent` (a client connected),
:class:`RequestEvent` (an HTTP request head arrived, with its ``time.monotonic()`` arrival time,
method, target, number and the fault applied) and :class:`ResponseEvent` (the upstream started
answering a request: the request reached the server).  :func:`max_in_window` computes the
largest number of arrivals inside any sliding window, for rate-limit assertions, and
:meth:`FaultProxy.wait_for` waits for a condition on the events without sleeping.

HTTP support
------------
HTTP/1.x with keep-alive and pipelining, ``Content-Length`` and chunked bodies in both
directions, ``Connection: close``, HTTP/1.0, responses delimited by end of stream, ``HEAD``,
1xx/204/304 responses without body, ``Expect: 100-continue`` and ``101 Switching Protocols``
(after which bytes are piped unchanged).  Each client connection gets its own upstream
connection.  If the upstream cannot be reached the proxy answers ``502``.  Not supported:
``CONNECT`` tunnelling, HTTP/2 and TLS termination (TLS bytes are proxied untouched in
``mode="tcp"``).

Modules
-------
``faults`` (the fault kinds and `Script`), ``events`` (what is recorded),
``http1`` (HTTP/1.x framing and canned answers) and ``proxy`` (the proxy, its
thread and its sessions). Everything a test needs is importable from here.
"""

from .events import ConnectionEvent, Event, RequestEvent, ResponseEvent, max_in_window
from .faults import (
    Answer,
    Close,
    Delay,
    Drip,
    Fault,
    Hang,
    Mode,
    Pass,
    Reset,
    ResetAfterBytes,
    Script,
    ScriptLike,
)
from .proxy import FaultProxy

__all__ = [
    "Answer",
    "Close",
    "ConnectionEvent",
    "Delay",
    "Drip",
    "Event",
    "Fault",
    "FaultProxy",
    "Hang",
    "Mode",
    "Pass",
    "RequestEvent",
    "Reset",
    "ResetAfterBytes",
    "ResponseEvent",
    "Script",
    "ScriptLike",
    "max_in_window",
]
