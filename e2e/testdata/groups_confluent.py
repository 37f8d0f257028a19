#!/usr/bin/python3
"""A confluent-kafka (librdkafka) consumer-group member, run by e2e/groups_clients_test.go:

  groups_confluent.py BOOTSTRAP TOPIC GROUP OUTFILE

subscribe()s to TOPIC with group.id GROUP (auto commit off) and, for each batch it
consumes, appends "partition offset value" lines to OUTFILE, flushes them, then commits
the offsets after the batch synchronously. Assignment changes go to stdout as
"assigned P P.." / "revoked P P.." / "lost P P.." lines, a failed commit as "commit
failed: ..." and client errors as "error: ...". On SIGTERM it stops after the batch in
hand, closes the consumer (leaving the group cleanly) and prints "closed"."""
import signal, sys

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

bootstrap, topic, group, outfile = sys.argv[1:5]
stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)


def say(*words):
    print(*words, flush=True)


def parts(ps):
    return " ".join(str(p.partition) for p in ps)


c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "client.id": "ck-" + outfile.rsplit("/", 1)[-1],
              "enable.auto.commit": False, "auto.offset.reset": "earliest",
              "session.timeout.ms": 10000, "heartbeat.interval.ms": 250,
              "fetch.wait.max.ms": 100, "topic.metadata.refresh.interval.ms": 2000})
c.subscribe([topic],
            on_assign=lambda cons, ps: say("assigned", parts(ps)),
            on_revoke=lambda cons, ps: say("revoked", parts(ps)),
            on_lost=lambda cons, ps: say("lost", parts(ps)))
say("started")
with open(outfile, "a") as out:
    while not stop:
        msgs = c.consume(num_messages=1000, timeout=0.2)
        last = {}
        for m in msgs:
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    say("error:", m.error())
                continue
            out.write("%d %d %s\n" % (m.partition(), m.offset(), m.value().decode()))
            last[m.partition()] = m.offset()
        if not last:
            continue
        out.flush()
        try:
            c.commit(offsets=[TopicPartition(topic, p, o + 1) for p, o in sorted(last.items())], asynchronous=False)
        except KafkaException as e:
            say("commit failed:", e)
c.close()
say("closed")
