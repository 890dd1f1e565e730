"""Round trip through a Bulwark broker with kafka-python (Debian python3-kafka 2.0.2).

Produces --count keyed messages with acks=all, spread over --partitions partitions by explicit
partition number, then reads every partition back from the beginning with manually assigned
partitions (group_id=None: consumer groups are not implemented yet, and no offsets are committed).
Prints one JSON document {"produced": [...], "consumed": [...], "errors": [...]} on stdout; the Go
test (e2e/python_test.go) checks it. Run with /usr/bin/python3.
"""

import argparse
import json
import sys
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--compression", default="none")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--extra", default="{}",
                    help="JSON object of extra keyword arguments for both clients (security settings)")
    args = ap.parse_args()
    extra = json.loads(args.extra)

    producer = KafkaProducer(
        bootstrap_servers=args.bootstrap,
        client_id="bulwark-e2e-kafka-python",
        acks="all",
        compression_type=None if args.compression == "none" else args.compression,
        linger_ms=5,
        retries=0,
        request_timeout_ms=15000,
        max_block_ms=15000,
        **extra
    )
    sent = []
    for i in range(args.count):
        key = "kp-%05d" % i
        value = "kafka-python %s value %05d %s" % (args.compression, i, "z" * (i % 37))
        future = producer.send(args.topic, key=key.encode(), value=value.encode(),
                               partition=i % args.partitions)
        sent.append((key, value, future))
    producer.flush(timeout=args.timeout)
    produced = []
    for key, value, future in sent:
        md = future.get(timeout=args.timeout)
        produced.append({"partition": md.partition, "offset": md.offset, "key": key, "value": value})
    producer.close(timeout=10)

    consumer = KafkaConsumer(
        bootstrap_servers=args.bootstrap,
        client_id="bulwark-e2e-kafka-python",
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        request_timeout_ms=15000,
        **extra
    )
    tps = [TopicPartition(args.topic, p) for p in range(args.partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    consumed = []
    deadline = time.time() + args.timeout
    while len(consumed) < args.count and time.time() < deadline:
        for tp, msgs in consumer.poll(timeout_ms=500).items():
            for m in msgs:
                consumed.append({
                    "partition": m.partition,
                    "offset": m.offset,
                    "key": None if m.key is None else m.key.decode(),
                    "value": None if m.value is None else m.value.decode(),
                })
    consumer.close()
    json.dump({"produced": produced, "consumed": consumed, "errors": []}, sys.stdout)


if __name__ == "__main__":
    main()
