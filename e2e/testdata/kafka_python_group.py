"""Consumer-group member for a Bulwark broker with kafka-python (Debian python3-kafka 2.0.2).

Subscribes to --topic as a member of --group (auto_offset_reset='earliest',
enable_auto_commit=False, api_version probed as in kafka_python_roundtrip.py), consumes up to --max
messages, or stops once --timeout seconds pass without a message after the first assignment, then
commits the consumed positions synchronously with consumer.commit(), closes the consumer (which
leaves the group) and prints one JSON document on stdout:

    {"consumed": [{"partition", "offset", "key", "value"}, ...],
     "errors": ["consume: ...", "commit: ..."],
     "assignment": [partitions seen in on_partitions_assigned]}

e2e/groups_test.go runs it twice against the same group, around a SIGKILL and restart of the
broker, and checks that the second run starts exactly where the first one's commit left off.
Run with /usr/bin/python3.
"""

import argparse
import json
import sys
import time

from kafka import ConsumerRebalanceListener, KafkaConsumer


class Listener(ConsumerRebalanceListener):
    def __init__(self):
        self.assignment = set()
        self.last = None  # time of the last assignment or message; None until the first assignment

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        for tp in assigned:
            self.assignment.add(tp.partition)
        self.last = time.time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--max", type=int, required=True, help="stop after this many messages")
    ap.add_argument("--timeout", type=float, default=5.0,
                    help="stop after this many seconds without a message (counted from the first assignment)")
    ap.add_argument("--limit", type=float, default=60.0,
                    help="hard limit on the whole consume loop in seconds, assigned or not")
    args = ap.parse_args()

    errors = []
    listener = Listener()
    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id="bulwark-e2e-kafka-python-group",
        group_id=args.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        request_timeout_ms=15000,
    )
    consumer.subscribe(topics=[args.topic], listener=listener)

    consumed = []
    hard_deadline = time.time() + args.limit
    while len(consumed) < args.max and time.time() < hard_deadline:
        if listener.last is not None and time.time() - listener.last > args.timeout:
            break
        try:
            # max_records keeps the position (what commit() commits) at exactly what was returned.
            batches = consumer.poll(timeout_ms=200, max_records=args.max - len(consumed))
        except Exception as e:  # noqa: BLE001 - every client error is reported, not raised
            errors.append("consume: %r" % e)
            time.sleep(0.2)
            continue
        for tp, msgs in batches.items():
            for m in msgs:
                listener.last = time.time()
                consumed.append({
                    "partition": m.partition,
                    "offset": m.offset,
                    "key": None if m.key is None else m.key.decode(),
                    "value": None if m.value is None else m.value.decode(),
                })

    if consumed:
        try:
            consumer.commit()
        except Exception as e:  # noqa: BLE001
            errors.append("commit: %r" % e)
    consumer.close(autocommit=False)
    json.dump({"consumed": consumed, "errors": errors, "assignment": sorted(listener.assignment)},
              sys.stdout)


if __name__ == "__main__":
    main()
