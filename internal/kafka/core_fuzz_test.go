package kafka

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRequest feeds arbitrary bytes to the frame reader, the header parser and the
// body decoder; none may panic, and a decoded request must encode again.
func FuzzDecodeRequest(f *testing.F) {
	seeds := []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(),
		kmsg.NewPtrMetadataRequest(),
		kmsg.NewPtrProduceRequest(),
		kmsg.NewPtrFetchRequest(),
		kmsg.NewPtrListOffsetsRequest(),
		kmsg.NewPtrInitProducerIDRequest(),
	}
	for _, req := range seeds {
		for v := req.GetVersion(); v >= 0; v-- {
			req.SetVersion(v)
			f.Add(encodeRequest(req, 1))
		}
	}
	p := kmsg.NewPtrProduceRequest()
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = makeBatch("a")
	rt.Partitions = append(rt.Partitions, rp)
	p.Topics = append(p.Topics, rt)
	p.Version = 9
	f.Add(encodeRequest(p, 2))
	f.Add(rawHeader(18, 99, 3, []byte{1, 2}))

	f.Fuzz(func(t *testing.T, data []byte) {
		if frame, err := readFrame(bytes.NewReader(data), 1<<20); err == nil {
			decodeFuzzed(t, frame)
		}
		decodeFuzzed(t, data)
	})
}

func decodeFuzzed(t *testing.T, frame []byte) {
	req, err := decodeRequest(frame)
	if err != nil {
		return
	}
	if req.Body.GetVersion() != req.Version || req.Body.Key() != req.Key {
		t.Fatalf("decoded %T v%d for key %d v%d", req.Body, req.Body.GetVersion(), req.Key, req.Version)
	}
	_ = req.Body.AppendTo(nil)
}

// FuzzRequestHeader checks the header parser and tag skipper on arbitrary bytes: no
// panic, and what they return is a suffix of their input.
func FuzzRequestHeader(f *testing.F) {
	f.Add(rawHeader(18, 3, 1, []byte{0}))
	f.Add([]byte{0, 3, 0, 9, 0, 0, 0, 1, 0, 2, 'i', 'd', 2, 0, 1, 7})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, rest, err := parseHeaderV1(data); err == nil && len(rest) > len(data) {
			t.Fatal("header parser grew its input")
		}
		if rest, err := skipTags(data); err == nil && len(rest) > len(data) {
			t.Fatal("tag skipper grew its input")
		}
	})
}
