"""moto's server, handling one request at a time, with cheap DynamoDB transactions.

DynamoDB makes each conditional write and each transaction atomic. moto's threaded server does
not: two requests can both pass a condition before either writes. The concurrency tests need
DynamoDB's guarantee, so every request here runs under one lock (moto is GIL-bound anyway).

moto backs up every table a transaction touches with a deep copy, once per item, before it
starts: on a table of a few thousand items that costs seconds and gigabytes. Since requests run
one at a time here, a transaction backs up only the items it writes, and puts them back if it is
cancelled.
"""

import copy
import sys
import threading

from moto import server
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_lock = threading.Lock()
_handle = DomainDispatcherApplication.__call__


def _serialized(self, environ, start_response):
    # moto's own API too: its state dump, read while another request changes the state, fails.
    with _lock:
        # moto answers with lists; materialise anything lazy while the lock is held.
        return list(_handle(self, environ, start_response))


DomainDispatcherApplication.__call__ = _serialized


class _TablesAreNotCopied:
    """`copy` for moto's DynamoDB models: tables are backed up item by item instead."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_transact = dynamodb_models.DynamoDBBackend.transact_write_items


def _transact_write_items(self, transact_items):
    backups = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        if op_type not in ("Put", "Update", "Delete") or op.get("TableName") not in self.tables:
            continue
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            key = {name: op["Item"][name] for name in names if name in op["Item"]}
        else:
            key = op["Key"]
        try:
            current = self.get_item(op["TableName"], key)
        except Exception:
            continue
        backups.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
    dynamodb_models.copy = _TablesAreNotCopied
    try:
        return _transact(self, transact_items)
    except Exception:
        for table_name, key, attributes in reversed(backups):
            if attributes is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise
    finally:
        dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items

if __name__ == "__main__":
    server.main(sys.argv[1:])
