//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kcat (librdkafka) against a standalone server.

// writeLines writes n lines "<prefix>-<i>-<filler>" to a file and returns its path. The
// filler repeats a little so the codecs have something to compress.
func writeLines(t *testing.T, prefix string, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), prefix+".txt")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "%s-%d-%s\n", prefix, i, strings.Repeat(strconv.Itoa(i%97), 1+i%13))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func lineValue(prefix string, i int) string {
	return fmt.Sprintf("%s-%d-%s", prefix, i, strings.Repeat(strconv.Itoa(i%97), 1+i%13))
}

// kcatRecord is one line of `kcat -C -f '%p %o %T %s\n'`.
type kcatRecord struct {
	partition int
	offset    int64
	ts        int64
	value     string
}

func kcatConsume(t *testing.T, broker, topic string, extra ...string) []kcatRecord {
	t.Helper()
	args := append([]string{"-C", "-b", broker, "-t", topic, "-e", "-q", "-f", `%p %o %T %s\n`}, extra...)
	out := runCmd(t, 120*time.Second, nil, nil, "kcat", args...)
	var recs []kcatRecord
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			t.Fatalf("bad kcat line %q", line)
		}
		p, err1 := strconv.Atoi(f[0])
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		ts, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad kcat line %q", line)
		}
		recs = append(recs, kcatRecord{p, o, ts, f[3]})
	}
	return recs
}

// checkLog checks recs hold the n values lineValue(prefix, 0..n-1) exactly once, with
// offsets contiguous from 0 per partition and the values in produce order per partition.
func checkLog(t *testing.T, recs []kcatRecord, prefix string, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("consumed %d records, want %d", len(recs), n)
	}
	seen := make([]bool, n)
	nextOff := map[int]int64{}
	lastIdx := map[int]int{}
	for _, r := range recs {
		if r.offset != nextOff[r.partition] {
			t.Fatalf("partition %d: offset %d, want %d", r.partition, r.offset, nextOff[r.partition])
		}
		nextOff[r.partition]++
		rest, ok := strings.CutPrefix(r.value, prefix+"-")
		if !ok {
			t.Fatalf("foreign value %q", r.value)
		}
		idx, err := strconv.Atoi(rest[:strings.IndexByte(rest, '-')])
		if err != nil || idx < 0 || idx >= n || r.value != lineValue(prefix, idx) {
			t.Fatalf("bad value %q", r.value)
		}
		if seen[idx] {
			t.Fatalf("value %d consumed twice", idx)
		}
		seen[idx] = true
		if last, ok := lastIdx[r.partition]; ok && idx < last {
			t.Fatalf("partition %d: record %d after %d (out of produce order)", r.partition, idx, last)
		}
		lastIdx[r.partition] = idx
	}
}

var kcatCodecs = []string{"none", "gzip", "snappy", "lz4", "zstd"}

// TestKcatCodecs produces 100k lines with each codec and reads them back, with 1 MiB
// segments so the logs roll many segments; then restarts the server (SIGTERM) and reads
// everything again. Measured on 2 cores: ~1.3 s per codec (produce ~0.3 s, consume
// ~0.8 s), ~10 s in all.
func TestKcatCodecs(t *testing.T) {
	needKcat(t)
	s := startStandalone(t, "--segment-bytes", "1048576")
	const n = 100_000
	for _, codec := range kcatCodecs {
		t.Run(codec, func(t *testing.T) {
			start := time.Now()
			topic := "kcat-" + codec
			path := writeLines(t, codec, n)
			// -l: one message per line of the file; default acks=all.
			runCmd(t, 120*time.Second, nil, nil, "kcat", "-P", "-b", s.addr(), "-t", topic, "-z", codec,
				"-X", "linger.ms=5",
				"-X", "sticky.partitioning.linger.ms=0", "-l", path) // spread keyless records over all partitions
			produced := time.Since(start)
			recs := kcatConsume(t, s.addr(), topic, "-o", "beginning")
			checkLog(t, recs, codec, n)
			parts := map[int]bool{}
			for _, r := range recs {
				parts[r.partition] = true
			}
			if len(parts) != 3 {
				t.Errorf("records on %d partitions, want 3 (auto-created topic)", len(parts))
			}
			t.Logf("%s: produced %d in %v, consumed in %v", codec, n, produced, time.Since(start)-produced)

			// From an offset inside a (compressed) batch: the first record returned is
			// exactly that offset. And the last 10 with a negative (from the end) offset.
			var p0 []kcatRecord
			for _, r := range recs {
				if r.partition == 0 {
					p0 = append(p0, r)
				}
			}
			mid := len(p0)/2 + 7
			got := kcatConsume(t, s.addr(), topic, "-p", "0", "-o", strconv.Itoa(mid), "-c", "5")
			if len(got) != 5 || got[0].offset != int64(mid) || got[0].value != p0[mid].value {
				t.Fatalf("partition 0 from offset %d: %+v, want %+v first", mid, got, p0[mid])
			}
			got = kcatConsume(t, s.addr(), topic, "-p", "0", "-o", "-10")
			if len(got) != 10 || got[0].offset != int64(len(p0)-10) || got[9].value != p0[len(p0)-1].value {
				t.Fatalf("partition 0 from -10: %d records starting %+v, want 10 from offset %d", len(got), got[:min(1, len(got))], len(p0)-10)
			}
		})
	}
	if t.Failed() {
		return
	}
	// The uncompressed topic (~1.2 MB a partition) rolled segments. (Kafka's layout:
	// topics/<topic>-<partition>/<base offset>.log; only checked when present.)
	if segs, _ := filepath.Glob(filepath.Join(s.dataDir, "topics", "kcat-none-*", "*.log")); len(segs) > 0 && len(segs) <= 3 {
		t.Errorf("kcat-none has %d segment files with --segment-bytes 1048576, want more than one a partition", len(segs))
	} else {
		t.Logf("kcat-none: %d segment files", len(segs))
	}
	// After a clean restart every topic reads back the same.
	s.stop()
	s.start()
	s.waitReady(1, 60*time.Second)
	for _, codec := range kcatCodecs {
		checkLog(t, kcatConsume(t, s.addr(), "kcat-"+codec, "-o", "beginning"), codec, n)
	}
}

// TestKcatMessageTooLarge: a record batch above the topic's max.message.bytes is
// refused with MESSAGE_TOO_LARGE, and smaller ones around it are stored.
func TestKcatMessageTooLarge(t *testing.T) {
	needKcat(t)
	s := startStandalone(t, "--max-message-bytes", "10000")
	path := filepath.Join(t.TempDir(), "big.txt")
	data := "small-1\n" + strings.Repeat("x", 50_000) + "\nsmall-2\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	// One message per batch (batch.num.messages=1), no client-side size check
	// (message.max.bytes above the record): the broker must refuse the big one.
	_, errOut, err := runCmdErr(60*time.Second, nil, nil, "kcat", "-P", "-b", s.addr(), "-t", "big", "-p", "0",
		"-X", "batch.num.messages=1", "-X", "message.max.bytes=1000000", "-l", path)
	if err == nil {
		t.Fatalf("kcat -P of a 50 kB record with max.message.bytes=10000 succeeded; stderr:\n%s", errOut)
	}
	if !strings.Contains(string(errOut), "Message size too large") {
		t.Fatalf("kcat -P: %v, stderr does not report MESSAGE_TOO_LARGE:\n%s", err, errOut)
	}
	recs := kcatConsume(t, s.addr(), "big", "-p", "0", "-o", "beginning")
	var vals []string
	for _, r := range recs {
		vals = append(vals, r.value)
	}
	if strings.Join(vals, ",") != "small-1,small-2" {
		t.Fatalf("partition holds %q, want small-1,small-2", vals)
	}
}

type kcatMetadata struct {
	Brokers []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	} `json:"brokers"`
	Controllerid int `json:"controllerid"`
	Topics       []struct {
		Topic      string `json:"topic"`
		Err        any    `json:"error"`
		Partitions []struct {
			Partition int   `json:"partition"`
			Leader    int   `json:"leader"`
			Replicas  []any `json:"replicas"`
			ISRs      []any `json:"isrs"`
		} `json:"partitions"`
	} `json:"topics"`
}

func TestKcatMetadata(t *testing.T) {
	needKcat(t)
	s := startStandalone(t)
	out := runCmd(t, 30*time.Second, nil, nil, "kcat", "-L", "-b", s.addr())
	if !bytes.Contains(out, []byte("1 brokers:")) || !bytes.Contains(out, []byte("broker 1 at localhost:"+strconv.Itoa(s.port))) {
		t.Fatalf("kcat -L:\n%s", out)
	}
	// Produce to a new topic (auto-created, 3 partitions) and list it as JSON.
	in := writeLines(t, "meta", 10)
	runCmd(t, 30*time.Second, nil, nil, "kcat", "-P", "-b", s.addr(), "-t", "meta-topic", "-l", in)
	out = runCmd(t, 30*time.Second, nil, nil, "kcat", "-L", "-J", "-b", s.addr(), "-t", "meta-topic")
	var md kcatMetadata
	if err := json.Unmarshal(out, &md); err != nil {
		t.Fatalf("kcat -L -J: %v\n%s", err, out)
	}
	if len(md.Brokers) != 1 || md.Brokers[0].ID != 1 || md.Brokers[0].Name != s.addr() {
		t.Fatalf("brokers: %s", out)
	}
	if md.Controllerid != 1 {
		t.Errorf("controller id %d, want 1", md.Controllerid)
	}
	if len(md.Topics) != 1 || md.Topics[0].Topic != "meta-topic" || md.Topics[0].Err != nil || len(md.Topics[0].Partitions) != 3 {
		t.Fatalf("topics: %s", out)
	}
	for _, p := range md.Topics[0].Partitions {
		if p.Leader != 1 || len(p.Replicas) != 1 || len(p.ISRs) != 1 {
			t.Fatalf("partition %+v", p)
		}
	}
	// All topics: the new one is listed.
	out = runCmd(t, 30*time.Second, nil, nil, "kcat", "-L", "-b", s.addr())
	if !bytes.Contains(out, []byte(`topic "meta-topic" with 3 partitions`)) {
		t.Fatalf("kcat -L (all topics):\n%s", out)
	}
}

// TestKcatOffsetsForTimes consumes from a timestamp (ListOffsets by time) that falls in
// the gap between two bursts: every partition must start at its first second-burst record.
// Uncompressed and lz4-compressed batches (the broker indexes batch timestamps).
func TestKcatOffsetsForTimes(t *testing.T) {
	needKcat(t)
	s := startStandalone(t)
	for _, codec := range []string{"none", "lz4"} {
		t.Run(codec, func(t *testing.T) { kcatOffsetsForTimes(t, s, "kcat-times-"+codec, codec) })
	}
}

func kcatOffsetsForTimes(t *testing.T, s *server, topic, codec string) {
	const n = 3000
	runCmd(t, 60*time.Second, nil, nil, "kcat", "-P", "-b", s.addr(), "-t", topic, "-z", codec, "-l", writeLines(t, "first", n))
	// The producer stamps CreateTime when it produces; make sure the clock moved past
	// the last first-burst timestamp before the second burst starts.
	gap := time.Now().UnixMilli() + 1
	for time.Now().UnixMilli() <= gap+20 {
		time.Sleep(2 * time.Millisecond)
	}
	runCmd(t, 60*time.Second, nil, nil, "kcat", "-P", "-b", s.addr(), "-t", topic, "-z", codec, "-l", writeLines(t, "second", n))

	all := kcatConsume(t, s.addr(), topic, "-o", "beginning")
	if len(all) != 2*n {
		t.Fatalf("topic holds %d records, want %d", len(all), 2*n)
	}
	firstSecond := map[int]kcatRecord{}
	for _, r := range all {
		if r.ts <= 0 {
			t.Fatalf("record without timestamp: %+v", r)
		}
		isSecond := strings.HasPrefix(r.value, "second-")
		if !isSecond && r.ts > gap {
			t.Fatalf("first-burst record stamped %d, after the gap %d", r.ts, gap)
		}
		if isSecond && r.ts <= gap {
			t.Fatalf("second-burst record stamped %d, before the gap %d", r.ts, gap)
		}
		if _, ok := firstSecond[r.partition]; isSecond && !ok {
			firstSecond[r.partition] = r
		}
	}

	got := kcatConsume(t, s.addr(), topic, "-o", "s@"+strconv.FormatInt(gap, 10))
	if len(got) == 0 {
		t.Fatal("nothing consumed from the timestamp")
	}
	if !strings.HasPrefix(got[0].value, "second-") {
		t.Fatalf("first record from s@%d is %+v, want a second-burst record", gap, got[0])
	}
	if len(got) != n {
		t.Fatalf("consumed %d records from s@%d, want the %d of the second burst", len(got), gap, n)
	}
	starts := map[int]bool{}
	for _, r := range got {
		if !strings.HasPrefix(r.value, "second-") {
			t.Fatalf("record %+v from before the timestamp", r)
		}
		if !starts[r.partition] {
			starts[r.partition] = true
			if want := firstSecond[r.partition]; r.offset != want.offset {
				t.Fatalf("partition %d starts at offset %d, want %d", r.partition, r.offset, want.offset)
			}
		}
	}
	// Per partition with -p: the first record returned is that partition's first
	// second-burst record.
	for p, want := range firstSecond {
		one := kcatConsume(t, s.addr(), topic, "-p", strconv.Itoa(p), "-o", "s@"+strconv.FormatInt(gap, 10), "-c", "1")
		if len(one) != 1 || one[0].offset != want.offset || one[0].value != want.value {
			t.Fatalf("partition %d from s@%d: %+v, want %+v", p, gap, one, want)
		}
	}
	// A timestamp after every record: consuming from it returns nothing.
	late := kcatConsume(t, s.addr(), topic, "-o", "s@"+strconv.FormatInt(time.Now().UnixMilli()+60_000, 10))
	if len(late) != 0 {
		t.Fatalf("consumed %d records from a future timestamp", len(late))
	}
}

// TestKcatSmallFetchSize: batches far larger than the consumer's fetch limits are still
// returned whole (KIP-74: the first batch is returned even above the limit), so the
// consumer makes progress.
func TestKcatSmallFetchSize(t *testing.T) {
	needKcat(t)
	s := startStandalone(t)
	const n = 2000
	path := filepath.Join(t.TempDir(), "sizes.txt")
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "v%d-%s\n", i, strings.Repeat("x", 100+(i*7919)%2900))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, 60*time.Second, nil, nil, "kcat", "-P", "-b", s.addr(), "-t", "fetch-size", "-p", "0",
		"-X", "linger.ms=50", "-X", "batch.size=500000", "-l", path)
	got := kcatConsume(t, s.addr(), "fetch-size", "-p", "0", "-o", "beginning",
		"-X", "fetch.message.max.bytes=1000", "-X", "fetch.max.bytes=1000", "-X", "message.max.bytes=1000")
	if len(got) != n {
		t.Fatalf("consumed %d records with 1000-byte fetch limits, want %d", len(got), n)
	}
	for i, r := range got {
		if r.offset != int64(i) || !strings.HasPrefix(r.value, fmt.Sprintf("v%d-", i)) {
			t.Fatalf("record %d: %+v", i, r)
		}
	}
}
