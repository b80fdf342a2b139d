"""An Arrow's log (its console output and the daemon's lines about it), as
`arrow logs` reads it: virDomainOpenChannel on virtarrowd's log channel, a
stream that ends at the end of the log. Works over any libvirt transport,
unlike reading the log file, which only the daemon's host and user can."""

from eventlet import tpool

# driver/api/arrow_names.h, kLogChannel.
LOG_CHANNEL = "org.arrow.log"


def _unwrapped(obj):
    """The libvirt object behind Nova's tpool.Proxy (Host wraps connections
    and domains so each call runs in a native thread)."""
    return getattr(obj, "_obj", obj)


def _read(conn, dom, limit):
    tail = bytearray()

    def sink(stream, data, opaque):
        tail.extend(data)
        if len(tail) > limit:
            del tail[:len(tail) - limit]
        return len(data)

    stream = conn.newStream(0)
    dom.openChannel(LOG_CHANNEL, stream, 0)
    try:
        stream.recvAll(sink, None)
    except Exception:
        stream.abort()
        raise
    stream.finish()
    return bytes(tail)


def read_log(conn, dom, limit):
    """The last LIMIT bytes of the Arrow DOM's log, read in a native thread
    (a stream's blocking reads must not stall Nova's green threads)."""
    return tpool.execute(_read, _unwrapped(conn), _unwrapped(dom), limit)
