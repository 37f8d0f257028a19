#!/usr/bin/python3
"""Seed scenario 2 (copied from /work/shared/acceptance/seed_failover.py, adapted to take
its addresses from the environment): keep producing while the leader of the topic's
partition 0 is killed. Every send must succeed and every message must be readable
afterwards.

  NODE_PIDS="1:pid,2:pid,3:pid"                     node id -> process id
  NODE_ADDRS="1=localhost:p1,2=localhost:p2,..."    node id -> Kafka address"""
import os, signal, sys, time, uuid
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

pids = dict((int(k), int(v)) for k, v in (p.split(":") for p in os.environ["NODE_PIDS"].split(",")))
addrs = dict((int(k), v) for k, v in (p.split("=") for p in os.environ["NODE_ADDRS"].split(",")))
servers = [addrs[n] for n in sorted(addrs)]
topic = "failover-" + uuid.uuid4().hex[:8]

producer = KafkaProducer(bootstrap_servers=servers, acks="all", retries=10, retry_backoff_ms=1000)
futures, killed = [], None
for i in range(50):
    futures.append(producer.send(topic, f"message-{i}".encode(), partition=0))
    if i == 20:
        producer.flush()
        leader = producer._metadata.leader_for_partition(TopicPartition(topic, 0))
        os.kill(pids[leader], signal.SIGKILL)
        killed, t_kill = leader, time.time()
        print(f"killed node {leader} (leader of partition 0)", flush=True)
    time.sleep(0.1)
producer.flush(timeout=60)
for f in futures:
    f.get(timeout=60)
producer.close()
print(f"all 50 sends acknowledged; {time.time() - t_kill:.1f}s after the kill")

alive = [addrs[n] for n in pids if n != killed]
consumer = KafkaConsumer(topic, bootstrap_servers=alive, auto_offset_reset="earliest",
                         consumer_timeout_ms=10000)
got = [m.value.decode() for m in consumer]
consumer.close()
missing = {f"message-{i}" for i in range(50)} - set(got)
print(f"read {50 - len(missing)}/50 distinct messages ({len(got) - len(set(got))} duplicates)")
print(f"topic {topic}", flush=True)
sys.exit(1 if missing else 0)
