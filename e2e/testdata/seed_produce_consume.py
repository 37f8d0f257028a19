#!/usr/bin/python3
"""Seed scenario 1 (copied from /work/shared/acceptance/seed_produce_consume.py, adapted
to take its addresses from the environment): produce 100 messages with acks='all'
through all three nodes to a topic that does not exist yet, then read all of them back
through node 2 alone.

  BOOTSTRAP_SERVERS="localhost:p1,localhost:p2,localhost:p3"  all three nodes
  CONSUME_SERVER="localhost:p2"                                node 2"""
import os, sys, uuid
from kafka import KafkaConsumer, KafkaProducer

servers = os.environ["BOOTSTRAP_SERVERS"].split(",")
consume_server = os.environ["CONSUME_SERVER"]
topic = "test-topic-" + uuid.uuid4().hex[:8]

producer = KafkaProducer(bootstrap_servers=servers, acks="all", retries=3)
for i in range(100):
    md = producer.send(topic, f"message-{i}".encode()).get(timeout=10)
    print(f"message {i} replicated: partition={md.partition} offset={md.offset}")
producer.flush()
producer.close()

consumer = KafkaConsumer(topic, bootstrap_servers=[consume_server],
                         auto_offset_reset="earliest", consumer_timeout_ms=10000)
got = {m.value.decode() for m in consumer}
consumer.close()
missing = {f"message-{i}" for i in range(100)} - got
print(f"read {100 - len(missing)}/100 messages through node 2")
sys.exit(1 if missing else 0)
