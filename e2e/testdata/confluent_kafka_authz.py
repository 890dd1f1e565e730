"""Authorization checks through a Bulwark broker with confluent-kafka-python (librdkafka).

Connects as one SCRAM user (--extra: librdkafka security settings) and tries, each on its own:
produce to --allowed-topic, produce to --denied-topic, consume --allowed-topic in --denied-group,
and init_transactions with --denied-txn. Prints one JSON document {check: error name or "ok"} on
stdout for e2e/authz_test.go: the error name is librdkafka's (TOPIC_AUTHORIZATION_FAILED, ...).
Run with /usr/bin/python3.
"""

import argparse
import json

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer


def produce(conf, topic, timeout):
    result = {}

    def on_delivery(err, msg):
        result["err"] = err

    p = Producer(dict(conf, **{"acks": "all", "message.timeout.ms": int(timeout * 1000)}))
    p.produce(topic, value=b"v", on_delivery=on_delivery)
    p.flush(timeout)
    err = result.get("err")
    if err is None and "err" not in result:
        return "NO_DELIVERY_REPORT"
    return "ok" if err is None else err.name()


def consume_group(conf, topic, group, timeout):
    c = Consumer(dict(conf, **{"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}))
    c.subscribe([topic])
    try:
        import time
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = c.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                return msg.error().name()
            return "ok"
        return "TIMEOUT"
    finally:
        c.close()


def init_txn(conf, txn, timeout):
    p = Producer(dict(conf, **{"transactional.id": txn}))
    try:
        p.init_transactions(timeout)
        return "ok"
    except KafkaException as e:
        return e.args[0].name()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--extra", default="{}")
    ap.add_argument("--allowed-topic", required=True)
    ap.add_argument("--denied-topic", required=True)
    ap.add_argument("--denied-group", required=True)
    ap.add_argument("--denied-txn", required=True)
    ap.add_argument("--timeout", type=float, default=15.0)
    args = ap.parse_args()
    conf = dict(json.loads(args.extra), **{"bootstrap.servers": args.bootstrap})
    out = {
        "produce_allowed": produce(conf, args.allowed_topic, args.timeout),
        "produce_denied": produce(conf, args.denied_topic, args.timeout),
        "group_denied": consume_group(conf, args.allowed_topic, args.denied_group, args.timeout),
        "txn_denied": init_txn(conf, args.denied_txn, args.timeout),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
