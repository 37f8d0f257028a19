package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/chronik-stream/chronik/internal/replication"
	"go.etcd.io/raft/v3/raftpb"
)

func pair(t *testing.T, votersB []uint64) (*Transport, *Transport, chan []replication.Message) {
	t.Helper()
	got := make(chan []replication.Message, 16)
	a := New(Config{NodeID: 1, ListenAddr: "127.0.0.1:0", Voters: []uint64{1, 2}})
	b := New(Config{NodeID: 2, ListenAddr: "127.0.0.1:0", Voters: votersB, Peers: map[uint64]string{1: "127.0.0.1:1"}})
	b.SetHandlers(func(from uint64, msgs []replication.Message) { got <- msgs },
		func(ctx context.Context, from uint64, method byte, req []byte) ([]byte, error) {
			if method == 9 {
				return nil, errors.New("no such method")
			}
			return append([]byte("echo:"), req...), nil
		})
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	a.peers[2] = newPeer(a, 2, b.Addr().String())
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b, got
}

func TestRaftMessagesAndCalls(t *testing.T) {
	a, _, got := pair(t, []uint64{1, 2})
	msgs := []replication.Message{{Group: 5, Msg: raftpb.Message{Type: raftpb.MsgApp, To: 2, From: 1, Term: 3,
		Entries: []raftpb.Entry{{Term: 3, Index: 9, Data: []byte("payload")}}}}}
	deadline := time.Now().Add(10 * time.Second)
	var recv []replication.Message
	for recv == nil {
		a.Send(2, msgs)
		select {
		case recv = <-got:
		case <-time.After(20 * time.Millisecond): // stream may still be connecting: resend
		}
		if time.Now().After(deadline) {
			t.Fatal("no raft message arrived")
		}
	}
	if recv[0].Group != 5 || !bytes.Equal(recv[0].Msg.Entries[0].Data, []byte("payload")) {
		t.Fatalf("got %+v", recv)
	}
	resp, err := a.Call(context.Background(), 2, 1, []byte("hi"))
	if err != nil || string(resp) != "echo:hi" {
		t.Fatalf("call: %q %v", resp, err)
	}
	if _, err := a.Call(context.Background(), 2, 9, nil); err == nil || err.Error() != "no such method" {
		t.Fatalf("call error: %v", err)
	}
}

func TestMembershipMismatchRefused(t *testing.T) {
	a, b, _ := pair(t, []uint64{1, 2, 3})
	deadline := time.Now().Add(10 * time.Second)
	for a.MembershipError() == nil || b.MembershipError() == nil {
		if time.Now().After(deadline) {
			t.Fatal("mismatch not detected")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func FuzzDecodeFrames(f *testing.F) {
	raft, _ := appendRaft(nil, []replication.Message{{Group: 1, Msg: raftpb.Message{Type: raftpb.MsgHeartbeat, To: 2}}})
	f.Add(raft)
	f.Add(appendHello(nil, 3, []uint64{1, 2, 3}))
	f.Add(appendSimple(nil, frameRequest, 7, 1, []byte("x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			typ, body, err := readFrame(r, nil)
			if err != nil {
				return
			}
			switch typ {
			case frameRaft:
				_, _ = decodeRaft(body)
			case frameHello:
				_, _, _ = decodeHello(body)
			default:
				_, _, _, _ = decodeCall(body)
			}
		}
	})
}

// Encoding into a reused buffer that holds older, longer content and decoding from a
// body the reader then overwrites both leave the messages intact.
func TestRaftFrameReusedBuffers(t *testing.T) {
	msgs := []replication.Message{
		{Group: 3, Msg: raftpb.Message{Type: raftpb.MsgApp, To: 2, From: 1, Term: 4, Index: 9,
			Entries: []raftpb.Entry{{Term: 4, Index: 10, Data: []byte("first entry")}, {Term: 4, Index: 11, Data: bytes.Repeat([]byte("x"), 300)}}}},
		{Group: 5, Msg: raftpb.Message{Type: raftpb.MsgHeartbeat, To: 2, From: 1, Term: 7, Context: []byte("ctx")}},
	}
	stale := bytes.Repeat([]byte{0xff}, 4096)
	frame, err := appendRaft(stale[:0], msgs)
	if err != nil {
		t.Fatal(err)
	}
	typ, body, err := readFrame(bufio.NewReader(bytes.NewReader(frame)), nil)
	if err != nil || typ != frameRaft {
		t.Fatalf("readFrame: type %d, %v", typ, err)
	}
	got, err := decodeRaft(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 0xee // the reader reuses its buffer for the next frame
	}
	if len(got) != len(msgs) {
		t.Fatalf("decoded %d messages, want %d", len(got), len(msgs))
	}
	for i := range msgs {
		if got[i].Group != msgs[i].Group || got[i].Msg.String() != msgs[i].Msg.String() {
			t.Fatalf("message %d: got %v / %s, want %v / %s", i, got[i].Group, got[i].Msg.String(), msgs[i].Group, msgs[i].Msg.String())
		}
	}
}
