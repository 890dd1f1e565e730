"""Authorization checks through a Bulwark broker with kafka-python (Debian python3-kafka 2.0.2).

Connects as one SCRAM user and tries: produce to --allowed-topic, produce to --denied-topic, and
consume --allowed-topic in --denied-group (kafka-python 2.0 has no transactions). Prints one JSON
document {check: error class name or "ok"} on stdout for e2e/authz_test.go.

kafka-python 2.0.2 records TOPIC_AUTHORIZATION_FAILED from Metadata in its cluster state but its
producer keeps asking until max_block_ms and raises KafkaTimeoutError (it does the same against
Apache Kafka): its metadata update fails with the broker's error but nothing raises it. On
that timeout the script asks for one more metadata update and reports the error it fails with.
Run with /usr/bin/python3.
"""

import argparse
import json
import time

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError


def produce(conf, topic, timeout):
    p = KafkaProducer(acks="all", max_block_ms=int(timeout * 1000), **conf)
    try:
        p.send(topic, b"v").get(timeout=timeout)
        return "ok"
    except KafkaTimeoutError:
        future = p._metadata.request_update()
        p._sender.wakeup()
        deadline = time.time() + timeout
        while not future.is_done and time.time() < deadline:
            time.sleep(0.05)
        if future.is_done and future.failed():
            return type(future.exception).__name__
        return "KafkaTimeoutError"
    except KafkaError as e:
        return type(e).__name__
    finally:
        p.close(timeout=5)


def consume_group(conf, topic, group, timeout):
    c = KafkaConsumer(topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False, **conf)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if c.poll(timeout_ms=1000):
                return "ok"
        return "TIMEOUT"
    except KafkaError as e:
        return type(e).__name__
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--allowed-topic", required=True)
    ap.add_argument("--denied-topic", required=True)
    ap.add_argument("--denied-group", required=True)
    ap.add_argument("--timeout", type=float, default=15.0)
    args = ap.parse_args()
    conf = dict(bootstrap_servers=args.bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
                sasl_plain_username=args.user, sasl_plain_password=args.password)
    out = {
        "produce_allowed": produce(conf, args.allowed_topic, args.timeout),
        "produce_denied": produce(conf, args.denied_topic, args.timeout),
        "group_denied": consume_group(conf, args.allowed_topic, args.denied_group, args.timeout),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
