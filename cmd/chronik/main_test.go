package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/chronik-stream/chronik/internal/bench"
)

// run executes the CLI with args and stdin and returns its standard output.
func run(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := cmd.ExecuteContext(ctx)
	return out.String(), err
}

func TestArgErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"topics", "create"}, "requires at least 1 arg"},
		{[]string{"topics", "delete"}, "requires at least 1 arg"},
		{[]string{"topics", "describe"}, "requires at least 1 arg"},
		{[]string{"topics", "list", "extra"}, "unknown command"},
		{[]string{"topics", "create", "t", "--partitions", "0"}, "--partitions 0"},
		{[]string{"topics", "create", "t", "--replication-factor", "-2"}, "--replication-factor -2"},
		{[]string{"topics", "create", "t", "--config", "novalue"}, "want key=value"},
		{[]string{"topics", "create", "t", "--partitions", "x"}, "invalid argument"},
		{[]string{"produce"}, "accepts 1 arg"},
		{[]string{"produce", "a", "b"}, "accepts 1 arg"},
		{[]string{"produce", "t", "--acks", "2"}, "--acks"},
		{[]string{"produce", "t", "--partition", "-3"}, "--partition -3"},
		{[]string{"consume"}, "accepts 1 arg"},
		{[]string{"consume", "t", "--max", "-1"}, "--max -1"},
		{[]string{"consume", "t", "--partition", "-2"}, "--partition -2"},
		{[]string{"cluster", "status", "x"}, "unknown command"},
		{[]string{"bench", "--targets", "nope"}, "unknown target"},
		{[]string{"bench", "--targets", "kfake,kfake"}, "listed twice"},
		{[]string{"bench", "--sizes", "0"}, "record size 0"},
		{[]string{"bench", "--latency-load", "2"}, "latency load"},
		{[]string{"bench", "--compression", "brotli"}, "unknown compression"},
		{[]string{"bench", "--latency-rate", "-5"}, "latency rate"},
		{[]string{"bench", "--in-process", "--chronik-binary", "/x"}, "exclude each other"},
		{[]string{"bench", "--chronik-binary", "/nonexistent/chronik-server"}, "no such file"},
		{[]string{"bench", "--targets", "chronik-3,kfake-3", "--chronik-binary", "/nonexistent/chronik-server"}, "chronik-3 needs a chronik-server binary"},
		{[]string{"bench", "idle", "--chronik-binary", "/nonexistent/chronik-server"}, "does not exist"},
		{[]string{"bench", "idle", "--partitions", "0"}, "partitions must be positive"},
		{[]string{"bench", "idle", "--duration", "10ms"}, "duration must be at least"},
		{[]string{"bench", "fsync", "--size", "0"}, "size 0"},
		{[]string{"bench", "fsync", "--dir", "/nonexistent/dir", "--duration", "10ms"}, "no such file"},
		{[]string{"bench", "--targets", "kfake", "--cpuprofile", "x.prof", "--records", "0"}, "records must be positive"},
		{[]string{"--brokers", "", "topics", "list"}, "no --brokers"},
		{[]string{"--brokers", "a:1,,b:2", "topics", "list"}, "empty broker"},
	}
	for _, c := range cases {
		_, err := run(t, "", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}

func TestParseConfigs(t *testing.T) {
	m, err := parseConfigs([]string{"retention.ms=1000", "cleanup.policy=delete", "empty="})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || *m["retention.ms"] != "1000" || *m["cleanup.policy"] != "delete" || *m["empty"] != "" {
		t.Fatalf("%v", m)
	}
	for _, bad := range [][]string{{"x"}, {"=1"}, {"a=1", "a=2"}} {
		if _, err := parseConfigs(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if m, err := parseConfigs(nil); m != nil || err != nil {
		t.Fatal(m, err)
	}
}

func TestParseAcks(t *testing.T) {
	for in, want := range map[string]kgo.Acks{"all": kgo.AllISRAcks(), "-1": kgo.AllISRAcks(), "1": kgo.LeaderAck(), "leader": kgo.LeaderAck(), "0": kgo.NoAck(), "none": kgo.NoAck()} {
		got, idem, err := parseAcks(in)
		if err != nil || got != want || idem != (want == kgo.AllISRAcks()) {
			t.Errorf("%q: %v %v %v", in, got, idem, err)
		}
	}
}

func TestBenchFlags(t *testing.T) {
	cmd, o := benchCmd(&globals{brokers: []string{"b:1"}})
	if err := cmd.ParseFlags([]string{"--quick", "--records", "1234", "--sizes", "10,20", "--partitions", "5", "--linger", "2ms", "--repeat", "3"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	q := bench.Quick()
	if cfg.Records != 1234 || cfg.Duration != q.Duration || cfg.LatencyDuration != q.LatencyDuration {
		t.Errorf("quick with --records: %+v", cfg)
	}
	if len(cfg.Sizes) != 2 || cfg.Sizes[1] != 20 || cfg.Partitions != 5 || cfg.Linger != 2*time.Millisecond || cfg.Repeat != 3 {
		t.Errorf("flags not applied: %+v", cfg)
	}

	cmd, o = benchCmd(&globals{})
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if cfg, err := o.config(); err != nil || cfg.Records != bench.Default().Records || cfg.Duration != bench.Default().Duration {
		t.Errorf("defaults: %+v %v", cfg, err)
	}
}

func TestChronikTargetChoice(t *testing.T) {
	exists := map[string]bool{}
	o := &benchOpts{fileExists: func(p string) bool { return exists[p] }}
	if tg, err := o.chronikTarget(); err != nil || !isInProcess(tg) {
		t.Fatalf("no binary: %T %v", tg, err)
	}
	exists[defaultServerBinary] = true
	tg, err := o.chronikTarget()
	if p, ok := tg.(*bench.Process); err != nil || !ok || p.Binary != defaultServerBinary {
		t.Fatalf("with ./bin/chronik-server: %T %v", tg, err)
	}
	o.inProcess = true
	if tg, err := o.chronikTarget(); err != nil || !isInProcess(tg) {
		t.Fatalf("--in-process: %T %v", tg, err)
	}
	o.inProcess = false
	o.binary = "/opt/chronik-server"
	exists[o.binary] = true
	tg, err = o.chronikTarget()
	if p, ok := tg.(*bench.Process); err != nil || !ok || p.Binary != o.binary {
		t.Fatalf("--chronik-binary: %T %v", tg, err)
	}
}

func isInProcess(t bench.Target) bool { _, ok := t.(*bench.InProcess); return ok }

// TestCommandsAgainstKfake drives every client command against franz-go's fake broker.
func TestCommandsAgainstKfake(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := "--brokers=" + strings.Join(c.ListenAddrs(), ",")
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, err := run(t, stdin, append([]string{b}, args...)...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	out := must("", "topics", "create", "events", "--partitions", "2", "--replication-factor", "1", "--config", "retention.ms=60000")
	if !strings.Contains(out, "created events (2 partitions") {
		t.Fatalf("create: %q", out)
	}
	if _, err := run(t, "", b, "topics", "create", "events"); err == nil {
		t.Fatal("creating an existing topic succeeded")
	}
	if out := must("", "topics", "list"); !strings.Contains(out, "events") || !strings.Contains(out, "2") {
		t.Fatalf("list: %q", out)
	}
	out = must("", "topics", "describe", "events")
	if !strings.Contains(out, "Partitions: 2") || !strings.Contains(out, "retention.ms=60000") {
		t.Fatalf("describe: %q", out)
	}
	must("one\ntwo\n\nfour\n", "produce", "events", "--partition", "1", "--key", "k")
	out = must("", "consume", "events", "--from-beginning", "--partition", "1", "--max", "4", "--print-key")
	if out != "k\tone\nk\ttwo\nk\t\nk\tfour\n" {
		t.Fatalf("consume: %q", out)
	}
	must("x\ny\n", "produce", "events", "--acks", "1")
	out = must("", "consume", "events", "--from-beginning", "--max", "6")
	if n := strings.Count(out, "\n"); n != 6 {
		t.Fatalf("consume all: %d lines: %q", n, out)
	}
	// From the end with a timeout: nothing new, a clean stop.
	if out := must("", "consume", "events", "--timeout", "300ms"); out != "" {
		t.Fatalf("consume from end: %q", out)
	}
	out = must("", "cluster", "status")
	for _, want := range []string{"Controller:", "Brokers (1)", "events", "ok"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status lacks %q: %q", want, out)
		}
	}
	must("", "topics", "delete", "events")
	if out := must("", "topics", "list"); strings.Contains(out, "events") {
		t.Fatalf("list after delete: %q", out)
	}
}

// TestBenchCommandKfake runs a tiny benchmark through the command.
func TestBenchCommandKfake(t *testing.T) {
	out, err := run(t, "", "bench", "--targets", "kfake,kfake-3", "--quick", "--records", "500", "--duration", "2s",
		"--latency-duration", "200ms", "--sizes", "100", "--progress=false")
	if err != nil {
		t.Fatal(err, out)
	}
	for _, want := range []string{"#### kfake\n", "#### kfake-3\n", "kfake-3/kfake", "produce 100 B records/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
