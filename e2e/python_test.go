//go:build e2e

package e2e

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The python clients run as scripts under testdata/ with /usr/bin/python3; each prints
// what it did and exits 0 (pass), 1 (failure, with a FAIL: line) or 3 (codec missing).

func runPython(t *testing.T, timeout time.Duration, script string, args ...string) {
	t.Helper()
	start := time.Now()
	out, errOut, err := runCmdErr(timeout, nil, nil, python, append([]string{"testdata/" + script}, args...)...)
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skipf("%s: %s", script, strings.TrimSpace(string(out)))
	}
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", script, strings.Join(args, " "), err, tail(out, 4000), tail(errOut, 4000))
	}
	t.Logf("%s (%.1fs)", strings.TrimSpace(string(out)), time.Since(start).Seconds())
}

const pythonRecords = 100_000

// TestKafkaPython: kafka-python 2.0.2 (Debian python3-kafka). Codecs are the ones its
// installed libraries support (python3-snappy, python3-lz4, python3-zstandard give all
// of gzip, snappy, lz4 and zstd). Measured on 2 cores: ~4-5 s per codec for 100k
// records (pure-python producer ~4 s), ~22 s in all.
func TestKafkaPython(t *testing.T) {
	needPython(t, "python3-kafka", "kafka")
	s := startStandalone(t)
	out, _, err := runCmdErr(30*time.Second, nil, nil, python, "testdata/kafka_python_client.py", s.addr(), "codecs")
	if err != nil {
		t.Fatalf("listing codecs: %v", err)
	}
	t.Logf("kafka-python codecs installed: %s", strings.TrimSpace(string(out)))
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			runPython(t, 180*time.Second, "kafka_python_client.py", s.addr(), "produce-consume", codec, strconv.Itoa(pythonRecords))
		})
	}
	t.Run("admin", func(t *testing.T) {
		runPython(t, 120*time.Second, "kafka_python_client.py", s.addr(), "admin")
	})
	t.Run("offsets_for_times", func(t *testing.T) {
		runPython(t, 120*time.Second, "kafka_python_client.py", s.addr(), "times")
	})
}

// TestConfluentKafka: confluent-kafka 1.7 over librdkafka 2.0 (Debian
// python3-confluent-kafka), idempotent producer with acks=all, assign() consumer (no
// consumer groups yet), AdminClient. Measured on 2 cores: ~1 s per codec for 100k
// records, ~6 s in all.
func TestConfluentKafka(t *testing.T) {
	needPython(t, "python3-confluent-kafka", "confluent_kafka")
	s := startStandalone(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			runPython(t, 180*time.Second, "confluent_client.py", s.addr(), "produce-consume", codec, strconv.Itoa(pythonRecords))
		})
	}
	t.Run("admin", func(t *testing.T) {
		runPython(t, 120*time.Second, "confluent_client.py", s.addr(), "admin")
	})
}
