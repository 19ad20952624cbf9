"""moto's server, handling one request at a time.

DynamoDB makes each conditional write and each transaction atomic. moto's threaded server does
not: two requests can both pass a condition before either writes. The concurrency tests need
DynamoDB's guarantee, so every request here runs under one lock (moto is GIL-bound anyway).
"""

import sys
import threading

from moto import server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_lock = threading.Lock()
_handle = DomainDispatcherApplication.__call__


def _serialized(self, environ, start_response):
    # moto's own API (the state dump tests read back) is slow on a big state and changes
    # nothing: it must not hold up the AWS calls.
    if environ.get("PATH_INFO", "").startswith("/moto-api"):
        return _handle(self, environ, start_response)
    with _lock:
        # moto answers with lists; materialise anything lazy while the lock is held.
        return list(_handle(self, environ, start_response))


DomainDispatcherApplication.__call__ = _serialized

if __name__ == "__main__":
    server.main(sys.argv[1:])
