"""Round trip through a Bulwark broker with confluent-kafka-python (Debian python3-confluent-kafka,
librdkafka 2.0.2).

Produces --count keyed messages with acks=all and the given compression.type, spread over
--partitions partitions by explicit partition number, then reads every partition back with
Consumer.assign() at explicit offset 0. librdkafka requires a group.id string, but nothing here
calls a group API: no subscribe(), enable.auto.commit and enable.auto.offset.store are off, and no
commit is made (consumer groups are not implemented yet). Prints one JSON document
{"produced": [...], "consumed": [...], "errors": [...]} on stdout for e2e/python_test.go.
Run with /usr/bin/python3.
"""

import argparse
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--partitions", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--compression", default="none")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--extra", default="{}",
                    help="JSON object of extra librdkafka settings for both clients (security settings)")
    args = ap.parse_args()
    extra = json.loads(args.extra)

    errors = []
    produced = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append("delivery: %s" % err)
            return
        produced.append({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": msg.key().decode(),
            "value": msg.value().decode(),
        })

    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "bulwark-e2e-confluent",
        "acks": "all",
        "enable.idempotence": False,
        "compression.type": args.compression,
        "linger.ms": 5,
        "message.timeout.ms": int(args.timeout * 1000),
        "error_cb": lambda err: errors.append("producer: %s" % err),
        **extra,
    })
    for i in range(args.count):
        key = "ck-%05d" % i
        value = "confluent %s value %05d %s" % (args.compression, i, "q" * (i % 41))
        while True:
            try:
                producer.produce(args.topic, key=key.encode(), value=value.encode(),
                                 partition=i % args.partitions, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    left = producer.flush(args.timeout)
    if left:
        errors.append("producer: %d messages not delivered within %.0fs" % (left, args.timeout))

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": "bulwark-e2e-confluent",
        "group.id": "bulwark-e2e-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
        "error_cb": lambda err: errors.append("consumer: %s" % err),
        **extra,
    })
    consumer.assign([TopicPartition(args.topic, p, 0) for p in range(args.partitions)])
    consumed = []
    deadline = time.time() + args.timeout
    while len(consumed) < len(produced) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() != KafkaError._PARTITION_EOF:
                errors.append("consume: %s" % msg.error())
            continue
        consumed.append({
            "partition": msg.partition(),
            "offset": msg.offset(),
            "key": None if msg.key() is None else msg.key().decode(),
            "value": None if msg.value() is None else msg.value().decode(),
        })
    consumer.close()
    json.dump({"produced": produced, "consumed": consumed, "errors": errors}, sys.stdout)


if __name__ == "__main__":
    main()
