#!/usr/bin/python3
"""kafka-python against chronik-server. Run by e2e/kafka_python_test.go:

  kafka_python_client.py BOOTSTRAP codecs                  # which codecs are installed
  kafka_python_client.py BOOTSTRAP produce-consume CODEC N # N records with CODEC, read back
  kafka_python_client.py BOOTSTRAP admin                   # KafkaAdminClient round trip
  kafka_python_client.py BOOTSTRAP times                   # offsets_for_times

Exit 0 = pass, 1 = failure (with a message), 3 = codec not installed."""
import sys, time, uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError
from kafka.codec import has_gzip, has_lz4, has_snappy, has_zstd

bootstrap = sys.argv[1]
CODECS = {"none": lambda: True, "gzip": has_gzip, "snappy": has_snappy, "lz4": has_lz4, "zstd": has_zstd}


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def value(prefix, i):
    return ("%s-%d-%s" % (prefix, i, str(i % 97) * (1 + i % 13))).encode()


def consume_all(topic, partitions, ends, deadline_s=120):
    """Reads every partition from the beginning up to ends[p]; returns {p: [(offset, value)]}."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             fetch_max_wait_ms=100, max_poll_records=5000)
    tps = [TopicPartition(topic, p) for p in partitions]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    got = {p: [] for p in partitions}
    deadline = time.time() + deadline_s
    while any(len(got[p]) < ends[p] for p in partitions):
        if time.time() > deadline:
            fail("consume timed out: %s of %s" % ({p: len(v) for p, v in got.items()}, ends))
        for tp, msgs in consumer.poll(timeout_ms=500).items():
            got[tp.partition].extend((m.offset, m.value) for m in msgs)
    consumer.close()
    return got


def produce_consume(codec, n):
    if not CODECS[codec]():
        print("codec %s not installed for kafka-python" % codec)
        sys.exit(3)
    topic = "kpy-%s-%s" % (codec, uuid.uuid4().hex[:6])
    t0 = time.time()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024,
                             compression_type=None if codec == "none" else codec, retries=5,
                             max_in_flight_requests_per_connection=1)
    futures = [producer.send(topic, value(codec, i)) for i in range(n)]
    producer.flush(timeout=120)
    acked = {}  # partition -> {offset: value}
    for i, f in enumerate(futures):
        md = f.get(timeout=60)
        part = acked.setdefault(md.partition, {})
        if md.offset in part:
            fail("partition %d offset %d acknowledged twice" % (md.partition, md.offset))
        part[md.offset] = value(codec, i)
    producer.close()
    t1 = time.time()
    if len(acked) != 3:
        fail("records on partitions %s, want 3 partitions" % sorted(acked))
    ends = {p: len(v) for p, v in acked.items()}
    # The end offsets the broker reports agree with the acknowledgements.
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    tps = [TopicPartition(topic, p) for p in acked]
    for tp, off in c.end_offsets(tps).items():
        if off != ends[tp.partition]:
            fail("partition %d: end offset %d, acknowledged %d records" % (tp.partition, off, ends[tp.partition]))
    for tp, off in c.beginning_offsets(tps).items():
        if off != 0:
            fail("partition %d: beginning offset %d" % (tp.partition, off))
    c.close()
    got = consume_all(topic, sorted(acked), ends)
    for p, recs in got.items():
        if len(recs) != ends[p]:
            fail("partition %d: consumed %d records, want %d" % (p, len(recs), ends[p]))
        for k, (off, val) in enumerate(recs):
            if off != k:
                fail("partition %d: record %d has offset %d" % (p, k, off))
            if acked[p][off] != val:
                fail("partition %d offset %d: %r, acknowledged %r" % (p, off, val, acked[p][off]))
    print("%s: produced %d in %.1fs, consumed in %.1fs" % (codec, n, t1 - t0, time.time() - t1))


def check_topic_errors(resp, what):
    for t in resp.topic_errors if hasattr(resp, "topic_errors") else resp.topic_error_codes:
        if t[1] != 0:
            fail("%s: topic %s error code %d (%r)" % (what, t[0], t[1], t))


def admin():
    a = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    name = "kpy-admin-" + uuid.uuid4().hex[:6]
    resp = a.create_topics([NewTopic(name, num_partitions=4, replication_factor=1,
                                     topic_configs={"retention.ms": "3600000", "cleanup.policy": "delete"})])
    check_topic_errors(resp, "create_topics")
    try:  # kafka-python raises the per-topic error code
        resp = a.create_topics([NewTopic(name, num_partitions=4, replication_factor=1)])
        fail("create_topics on an existing topic succeeded: %r" % (resp,))
    except TopicAlreadyExistsError:
        pass
    if name not in a.list_topics():
        fail("list_topics misses %s: %s" % (name, a.list_topics()))
    desc = a.describe_topics([name])
    if len(desc) != 1 or desc[0]["error_code"] != 0 or len(desc[0]["partitions"]) != 4:
        fail("describe_topics: %r" % desc)
    cfgs = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    entries = {}
    for r in cfgs:
        for res in r.resources:
            if res[0] != 0:
                fail("describe_configs error %r" % (res,))
            for e in res[4]:
                entries[e[0]] = e[1]
    if entries.get("retention.ms") != "3600000":
        fail("describe_configs retention.ms = %r (entries %r)" % (entries.get("retention.ms"), entries))
    if entries.get("cleanup.policy") != "delete":
        fail("describe_configs cleanup.policy = %r" % entries.get("cleanup.policy"))
    resp = a.create_partitions({name: NewPartitions(6)})
    for t in resp.topic_errors:
        if t[1] != 0:
            fail("create_partitions: %r" % (t,))
    deadline = time.time() + 10
    while True:
        desc = a.describe_topics([name])
        if len(desc[0]["partitions"]) == 6:
            break
        if time.time() > deadline:
            fail("describe_topics after create_partitions: %r" % desc)
        time.sleep(0.05)
    # The new partitions take writes.
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for part in range(6):
        md = p.send(name, b"x", partition=part).get(timeout=30)
        if md.offset != 0:
            fail("partition %d: first offset %d" % (part, md.offset))
    p.close()
    resp = a.delete_topics([name])
    check_topic_errors(resp, "delete_topics")
    deadline = time.time() + 10
    while name in a.list_topics():
        if time.time() > deadline:
            fail("topic still listed after delete_topics")
        time.sleep(0.05)
    try:
        resp = a.delete_topics(["no-such-topic-" + uuid.uuid4().hex[:6]])
        fail("delete_topics on a missing topic succeeded: %r" % (resp,))
    except UnknownTopicOrPartitionError:
        pass
    a.close()
    print("admin: create/list/describe/describe_configs/create_partitions/delete ok")


def times():
    topic = "kpy-times-" + uuid.uuid4().hex[:6]
    base = int(time.time() * 1000) - 600_000  # ten minutes ago: both bursts are in the past
    n = 3000
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    first = [producer.send(topic, value("first", i), timestamp_ms=base + i // 100) for i in range(n)]
    second = [producer.send(topic, value("second", i), timestamp_ms=base + 100_000 + i // 100) for i in range(n)]
    producer.flush(timeout=60)
    first_md = [f.get(timeout=30) for f in first]
    second_md = [f.get(timeout=30) for f in second]
    producer.close()
    want = {}  # partition -> first offset of the second burst
    for md in second_md:
        want.setdefault(md.partition, md.offset)
    last_first = {}
    for md in first_md:
        last_first[md.partition] = md.offset
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    parts = sorted(c.partitions_for_topic(topic))
    tps = [TopicPartition(topic, p) for p in parts]
    # In the gap: the first record of the second burst.
    got = c.offsets_for_times({tp: base + 50_000 for tp in tps})
    for tp, ot in got.items():
        if ot is None or ot.offset != want[tp.partition]:
            fail("offsets_for_times(gap) partition %d: %r, want offset %d" % (tp.partition, ot, want[tp.partition]))
        if ot.timestamp < base + 100_000:
            fail("offsets_for_times(gap) partition %d: timestamp %d before the burst" % (tp.partition, ot.timestamp))
    # Before everything: offset 0. Exactly a timestamp inside the first burst: the first
    # record with timestamp >= it.
    got = c.offsets_for_times({tp: 0 for tp in tps})
    for tp, ot in got.items():
        if ot is None or ot.offset != 0:
            fail("offsets_for_times(0) partition %d: %r" % (tp.partition, ot))
    # After everything: None (no such record).
    got = c.offsets_for_times({tp: base + 500_000 for tp in tps})
    for tp, ot in got.items():
        if ot is not None:
            fail("offsets_for_times(after end) partition %d: %r, want None" % (tp.partition, ot))
    # Consume from the gap offset: the first record is from the second burst.
    c.assign(tps)
    for tp, ot in c.offsets_for_times({tp: base + 50_000 for tp in tps}).items():
        c.seek(tp, ot.offset)
    deadline = time.time() + 30
    firsts = {}
    while len(firsts) < len(tps):
        if time.time() > deadline:
            fail("no records after seeking to the gap: %r" % firsts)
        for tp, msgs in c.poll(timeout_ms=500).items():
            if msgs and tp.partition not in firsts:
                firsts[tp.partition] = msgs[0]
    for p, m in firsts.items():
        if not m.value.startswith(b"second-") or m.timestamp < base + 100_000:
            fail("partition %d: first record after the gap is %r (ts %d)" % (p, m.value, m.timestamp))
    c.close()
    print("offsets_for_times ok: %r" % want)


cmd = sys.argv[2]
if cmd == "codecs":
    print(" ".join(c for c, ok in CODECS.items() if ok()))
elif cmd == "produce-consume":
    produce_consume(sys.argv[3], int(sys.argv[4]))
elif cmd == "admin":
    admin()
elif cmd == "times":
    times()
else:
    fail("unknown command " + cmd)
