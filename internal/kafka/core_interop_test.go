package kafka

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	segkafka "github.com/segmentio/kafka-go"
)

// Interop with other Go clients than franz-go.

func TestCoreSarama(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("sar", 2)
	for _, v := range []sarama.KafkaVersion{sarama.V0_11_0_0, sarama.V2_1_0_0, sarama.V3_6_0_0} {
		t.Run(v.String(), func(t *testing.T) {
			cfg := sarama.NewConfig()
			cfg.Version = v
			cfg.Producer.Return.Successes = true
			cfg.Producer.RequiredAcks = sarama.WaitForAll
			cfg.Producer.Partitioner = sarama.NewManualPartitioner
			cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
			pr, err := sarama.NewSyncProducer([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pr.Close()
			var first int64 = -1
			for i := range 5 {
				_, off, err := pr.SendMessage(&sarama.ProducerMessage{Topic: "sar", Partition: 1, Value: sarama.StringEncoder(fmt.Sprint(i))})
				if err != nil {
					t.Fatal(err)
				}
				if first < 0 {
					first = off
				}
			}
			cons, err := sarama.NewConsumer([]string{addr}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			pc, err := cons.ConsumePartition("sar", 1, first)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			ctx := testCtx(t)
			for i := range 5 {
				select {
				case m := <-pc.Messages():
					if string(m.Value) != fmt.Sprint(i) || m.Offset != first+int64(i) {
						t.Fatalf("message %d: %q at %d", i, m.Value, m.Offset)
					}
				case err := <-pc.Errors():
					t.Fatal(err)
				case <-ctx.Done():
					t.Fatalf("message %d not consumed", i)
				}
			}
		})
	}
}

func TestCoreSegmentioKafkaGo(t *testing.T) {
	_, f, addr := startCore(t, Config{})
	f.createTopic("seg", 1)
	ctx := testCtx(t)
	w := &segkafka.Writer{Addr: segkafka.TCP(addr), Topic: "seg", RequiredAcks: segkafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	for i := range 5 {
		if err := w.WriteMessages(ctx, segkafka.Message{Value: fmt.Append(nil, i)}); err != nil {
			t.Fatal(err)
		}
	}
	r := segkafka.NewReader(segkafka.ReaderConfig{Brokers: []string{addr}, Topic: "seg", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	for i := range 5 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Value) != fmt.Sprint(i) || m.Offset != int64(i) {
			t.Fatalf("message %d: %q at %d", i, m.Value, m.Offset)
		}
	}
}

// TestCoreKcat drives the server with librdkafka through kcat, when it is installed.
func TestCoreKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat not installed")
	}
	_, f, addr := startCore(t, Config{})
	f.createTopic("kc", 1)
	run := func(stdin string, args ...string) string {
		t.Helper()
		ctx := testCtx(t)
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", addr}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kcat %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("one\ntwo\nthree\n", "-P", "-t", "kc", "-X", "acks=all")
	run("auto\n", "-P", "-t", "kc-auto") // librdkafka asks Metadata v4+ with auto-creation
	if out := run("", "-q", "-C", "-t", "kc", "-o", "beginning", "-e", "-f", "%o:%s\n"); out != "0:one\n1:two\n2:three\n" {
		t.Fatalf("consumed %q", out)
	}
	if out := run("", "-q", "-C", "-t", "kc-auto", "-o", "beginning", "-e", "-f", "%s\n"); out != "auto\n" {
		t.Fatalf("consumed %q", out)
	}
	if out := run("", "-L", "-t", "kc"); !strings.Contains(out, `topic "kc" with 1 partitions`) {
		t.Fatalf("metadata %q", out)
	}
}
