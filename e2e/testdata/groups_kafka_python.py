#!/usr/bin/python3
"""A kafka-python KafkaConsumer in a consumer group, run by e2e/groups_clients_test.go:

  groups_kafka_python.py BOOTSTRAP TOPIC GROUP WANT

subscribes to TOPIC with group_id GROUP (auto commit off, earliest reset), polls until
it has WANT records (60 s at most), committing synchronously after every poll that
returned records, then closes without committing again. Prints "partition offset value"
for each record, then "assigned P P..", "generation N" and "done N". Exit 0 = WANT
records consumed and committed, 1 = failure (with a FAIL: line)."""
import sys, time

from kafka import KafkaConsumer

bootstrap, topic, group, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


c = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, client_id="kp-group",
                  enable_auto_commit=False, auto_offset_reset="earliest",
                  session_timeout_ms=10000, heartbeat_interval_ms=500, fetch_max_wait_ms=100)
got = []
deadline = time.time() + 60
while len(got) < want:
    if time.time() > deadline:
        fail("consumed %d of %d records in 60 s" % (len(got), want))
    batch = c.poll(timeout_ms=200, max_records=2000)
    n = 0
    for tp, recs in batch.items():
        for r in recs:
            got.append((r.partition, r.offset, r.value.decode()))
            n += 1
    if n:
        c.commit()  # the positions after the records just returned
assignment = sorted(tp.partition for tp in c.assignment())
generation = c._coordinator._generation.generation_id
c.close(autocommit=False)
for p, o, v in got:
    print(p, o, v)
print("assigned", " ".join(map(str, assignment)))
print("generation", generation)
print("done", len(got), flush=True)
