"""Function code that probes its sandbox from inside, shared by the isolation tests."""

# Handler-module source: _connect(host, port) -> "open" or the OSError's name (1.5 s timeout).
CONNECT = r'''
import os, socket

def _connect(host, port):
    s = socket.socket()
    s.settimeout(1.5)
    try:
        s.connect((host, port))
        return "open"
    except OSError as err:
        return type(err).__name__
    finally:
        s.close()
'''
