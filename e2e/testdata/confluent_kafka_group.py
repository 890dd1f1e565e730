"""Consumer-group member for a Bulwark broker with confluent-kafka-python (Debian
python3-confluent-kafka, librdkafka 2.0.2).

Subscribes to --topic as a member of --group (auto.offset.reset=earliest, enable.auto.commit off),
consumes up to --max messages, or stops once --timeout seconds pass without a message after the
first assignment, then commits the consumed positions synchronously, closes the consumer (which
leaves the group) and prints one JSON document on stdout:

    {"consumed": [{"partition", "offset", "key", "value"}, ...],
     "errors": ["consume: ...", "commit: ...", "client: ..."],
     "assignment": [partitions seen in on_assign]}

e2e/groups_test.go runs it twice against the same group, around a broker restart, and checks that
the second run starts exactly where the first one's commit left off. Run with /usr/bin/python3.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException


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
    assignment = set()
    state = {"last": None}  # time of the last assignment or message; None until the first assignment

    def on_assign(consumer, partitions):
        for tp in partitions:
            assignment.add(tp.partition)
        state["last"] = time.time()

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "bulwark-e2e-confluent-group",
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 100,
        "error_cb": lambda err: errors.append("client: %s" % err),
    })
    consumer.subscribe([args.topic], on_assign=on_assign)

    consumed = []
    hard_deadline = time.time() + args.limit
    while len(consumed) < args.max and time.time() < hard_deadline:
        if state["last"] is not None and time.time() - state["last"] > args.timeout:
            break
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                errors.append("consume: %s" % msg.error())
            continue
        state["last"] = time.time()
        consumed.append({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": None if msg.key() is None else msg.key().decode(),
            "value": None if msg.value() is None else msg.value().decode(),
        })

    if consumed:
        # With no argument commit() commits the positions of the messages poll() returned
        # (enable.auto.offset.store is on), i.e. last consumed offset + 1 per partition.
        try:
            for tp in consumer.commit(asynchronous=False) or []:
                if tp.error is not None:
                    errors.append("commit: partition %d: %s" % (tp.partition, tp.error))
        except KafkaException as e:
            errors.append("commit: %s" % e)
    consumer.close()
    json.dump({"consumed": consumed, "errors": errors, "assignment": sorted(assignment)}, sys.stdout)


if __name__ == "__main__":
    main()
