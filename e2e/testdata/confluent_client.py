#!/usr/bin/python3
"""confluent-kafka (librdkafka) against chronik-server. Run by e2e/confluent_test.go:

  confluent_client.py BOOTSTRAP produce-consume CODEC N  # idempotent acks=all producer, assign() consumer
  confluent_client.py BOOTSTRAP admin                    # AdminClient round trip

Consumer groups are not implemented by the server yet, so the consumer uses assign() with
explicit offsets and never commits. Exit 0 = pass, 1 = failure."""
import sys, time, uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

bootstrap = sys.argv[1]


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def value(prefix, i):
    return ("%s-%d-%s" % (prefix, i, str(i % 97) * (1 + i % 13))).encode()


def produce_consume(codec, n):
    topic = "ck-%s-%s" % (codec, uuid.uuid4().hex[:6])
    errors = []
    acked = {}  # partition -> {offset: value}

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
            return
        part = acked.setdefault(msg.partition(), {})
        if msg.offset() in part:
            errors.append("partition %d offset %d acknowledged twice" % (msg.partition(), msg.offset()))
        part[msg.offset()] = msg.value()

    t0 = time.time()
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                  "compression.type": codec, "linger.ms": 5, "message.timeout.ms": 60000,
                  "sticky.partitioning.linger.ms": 0})  # keyless records spread over all partitions
    for i in range(n):
        while True:
            try:
                p.produce(topic, value(codec, i), on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.05)
        if i % 1000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left:
        fail("%d messages not delivered after flush" % left)
    if errors:
        fail("%d delivery errors, first: %s" % (len(errors), errors[0]))
    t1 = time.time()
    total = sum(len(v) for v in acked.values())
    if total != n:
        fail("%d acknowledgements for %d messages" % (total, n))
    if len(acked) != 3:
        fail("records on partitions %s, want 3" % sorted(acked))

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "chronik-e2e", "enable.auto.commit": False,
                  "enable.partition.eof": True, "fetch.wait.max.ms": 100})
    parts = sorted(acked)
    for part in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, part), timeout=10)
        if lo != 0 or hi != len(acked[part]):
            fail("partition %d watermarks (%d, %d), want (0, %d)" % (part, lo, hi, len(acked[part])))
    c.assign([TopicPartition(topic, part, 0) for part in parts])
    got = {part: [] for part in parts}
    eof = set()
    deadline = time.time() + 120
    while len(eof) < len(parts) or any(len(got[q]) < len(acked[q]) for q in parts):
        if time.time() > deadline:
            fail("consume timed out: %s" % {q: len(v) for q, v in got.items()})
        for m in c.consume(num_messages=10000, timeout=0.5):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    if len(got[m.partition()]) >= len(acked[m.partition()]):
                        eof.add(m.partition())
                    continue
                fail("consume error: %s" % m.error())
            got[m.partition()].append((m.offset(), m.value()))
    c.close()
    for part in parts:
        recs = got[part]
        if len(recs) != len(acked[part]):
            fail("partition %d: consumed %d, want %d" % (part, len(recs), len(acked[part])))
        for k, (off, val) in enumerate(recs):
            if off != k or acked[part][off] != val:
                fail("partition %d record %d: offset %d %r, want offset %d %r" % (part, k, off, val, k, acked[part].get(k)))
    print("%s: produced %d (idempotent, acks=all) in %.1fs, consumed in %.1fs" % (codec, n, t1 - t0, time.time() - t1))


def result(futures, what):
    for k, f in futures.items():
        try:
            f.result(timeout=30)
        except Exception as e:
            fail("%s %s: %s" % (what, k, e))


def expect_error(futures, code, what):
    for k, f in futures.items():
        try:
            f.result(timeout=30)
            fail("%s succeeded, want %s" % (what, KafkaError(code).name()))
        except KafkaException as e:
            if e.args[0].code() != code:
                fail("%s: %s, want %s" % (what, e, KafkaError(code).name()))


def admin():
    a = AdminClient({"bootstrap.servers": bootstrap})
    name = "ck-admin-" + uuid.uuid4().hex[:6]
    result(a.create_topics([NewTopic(name, num_partitions=3, replication_factor=1,
                                     config={"retention.ms": "7200000", "segment.bytes": "1048576"})],
                           operation_timeout=10), "create_topics")
    # Again: TOPIC_ALREADY_EXISTS.
    fs = a.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
    try:
        fs[name].result(timeout=30)
        fail("create_topics on an existing topic succeeded")
    except KafkaException as e:
        if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            fail("create_topics on an existing topic: %s, want TOPIC_ALREADY_EXISTS" % e)
    md = a.list_topics(topic=name, timeout=10)
    if name not in md.topics or len(md.topics[name].partitions) != 3:
        fail("list_topics: %r" % md.topics)
    fs = a.describe_configs([ConfigResource("topic", name)])
    for res, f in fs.items():
        entries = f.result(timeout=30)
        if entries["retention.ms"].value != "7200000":
            fail("retention.ms = %r" % entries["retention.ms"].value)
        if entries["segment.bytes"].value != "1048576":
            fail("segment.bytes = %r" % entries["segment.bytes"].value)
        if entries["retention.ms"].is_default:
            fail("retention.ms reported as default")
    # alter_configs (AlterConfigs replaces the topic's set configs) and read it back.
    res = ConfigResource("topic", name, set_config={"retention.ms": "5400000", "segment.bytes": "1048576"})
    result(a.alter_configs([res]), "alter_configs")
    for r, f in a.describe_configs([ConfigResource("topic", name)]).items():
        entries = f.result(timeout=30)
        if entries["retention.ms"].value != "5400000":
            fail("retention.ms after alter_configs = %r" % entries["retention.ms"].value)
    # Refused requests carry Kafka's error codes.
    expect_error(a.create_topics([NewTopic("ck-bad-config-" + uuid.uuid4().hex[:6], 1, 1, config={"retention.ms": "soon"})]),
                 KafkaError.INVALID_CONFIG, "create_topics with retention.ms=soon")
    expect_error(a.create_topics([NewTopic("ck-rf3-" + uuid.uuid4().hex[:6], 1, 3)]),
                 KafkaError.INVALID_REPLICATION_FACTOR, "create_topics with replication factor 3 on one broker")
    expect_error(a.create_topics([NewTopic("bad/name", 1, 1)]),
                 KafkaError.TOPIC_EXCEPTION, "create_topics named bad/name")
    expect_error(a.create_topics([NewTopic("ck-zero-" + uuid.uuid4().hex[:6], 0, 1)]),
                 KafkaError.INVALID_PARTITIONS, "create_topics with 0 partitions")
    result(a.create_partitions([NewPartitions(name, 5)], operation_timeout=10), "create_partitions")
    deadline = time.time() + 10
    while len(a.list_topics(topic=name, timeout=10).topics[name].partitions) != 5:
        if time.time() > deadline:
            fail("still %d partitions after create_partitions" % len(a.list_topics(topic=name).topics[name].partitions))
        time.sleep(0.05)
    # Fewer partitions than now: INVALID_PARTITIONS.
    fs = a.create_partitions([NewPartitions(name, 2)])
    try:
        fs[name].result(timeout=30)
        fail("create_partitions shrinking the topic succeeded")
    except KafkaException as e:
        if e.args[0].code() != KafkaError.INVALID_PARTITIONS:
            fail("create_partitions(2): %s, want INVALID_PARTITIONS" % e)
    result(a.delete_topics([name], operation_timeout=10), "delete_topics")
    deadline = time.time() + 10
    while name in a.list_topics(timeout=10).topics:
        if time.time() > deadline:
            fail("topic still listed after delete_topics")
        time.sleep(0.05)
    fs = a.delete_topics(["ck-missing-" + uuid.uuid4().hex[:6]])
    for k, f in fs.items():
        try:
            f.result(timeout=30)
            fail("delete_topics on a missing topic succeeded")
        except KafkaException as e:
            if e.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                fail("delete_topics on a missing topic: %s, want UNKNOWN_TOPIC_OR_PART" % e)
    print("admin: create_topics(configs)/describe_configs/alter_configs/create_partitions/delete_topics and error codes ok")


cmd = sys.argv[2]
if cmd == "produce-consume":
    produce_consume(sys.argv[3], int(sys.argv[4]))
elif cmd == "admin":
    admin()
else:
    fail("unknown command " + cmd)
