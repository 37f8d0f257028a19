package kafka

// Produce (key 0): v3-v11.
//
// Behaviour:
//   - Acks must be -1, 0 or 1; anything else answers INVALID_REQUIRED_ACKS for every
//     partition without writing.
//   - A non-null TransactionalID answers TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every
//     partition: transactions are not supported.
//   - Each partition's write is queued with Backend.Produce, in request order, from the
//     handler's goroutine (from one goroutine per partition when the request is 1 MiB or
//     more and there are several cores), under a ctx bounded by TimeoutMillis when it is
//     positive; the Backend validates the batches and applies acks. Once all are queued,
//     the next request on the connection may start (its writes are appended after
//     these); then the handler waits for every partition's outcome, the writes
//     replicating together.
//   - Per partition: error code, base offset, log append time (-1 unless the topic uses
//     LogAppendTime), log start offset; v8+ also an error message. On error base offset,
//     log append time and log start offset are -1.
//   - Acks=0: the records are still written before the handler returns (so later
//     requests on the connection see them), but no response is sent.
//   - Requests of one connection are handled in order (conn.go), so pipelined produces
//     are appended in the order they were sent, which idempotent producers rely on.
//
// Not supported: v12+ (KIP-890 transactions, v13 topic ids), current-leader hints.

import (
	"context"
	"runtime"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(0, 3, 11, handleProduce) }

// parallelProduceBytes is the request size from which a Produce queues its partitions
// from one goroutine each (validation of megabytes on several cores) instead of from the
// handler's own goroutine (no waiting for goroutines to be scheduled, which on a busy
// machine delayed the next pipelined request by up to milliseconds).
const parallelProduceBytes = 1 << 20

func handleProduce(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.ProduceRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)

	// One answer per request partition, in request order.
	type job struct {
		topic string
		rp    *kmsg.ProduceRequestTopicPartition
		out   *kmsg.ProduceResponseTopicPartition
	}
	var jobs []job
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
	}
	for i := range req.Topics {
		rt := &req.Topics[i]
		for j := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			*out = kmsg.NewProduceResponseTopicPartition()
			out.Partition = rt.Partitions[j].Partition
			jobs = append(jobs, job{topic: rt.Topic, rp: &rt.Partitions[j], out: out})
		}
	}

	var reject error
	switch {
	case req.Acks != -1 && req.Acks != 0 && req.Acks != 1:
		reject = kerr.InvalidRequiredAcks
	case req.TransactionID != nil:
		reject = kerr.TransactionalIDAuthorizationFailed
	}
	if reject != nil {
		for _, j := range jobs {
			setProduceResult(req.Version, j.out, ProduceResult{}, reject)
		}
		if req.Acks == 0 {
			return nil, nil
		}
		return resp, nil
	}

	pctx, cancel := withRequestTimeout(ctx, req.TimeoutMillis)
	defer cancel()
	waits := make([]ProduceWait, len(jobs))
	queue := func(i int) {
		j := jobs[i]
		waits[i] = s.backend.Produce(pctx, j.topic, j.rp.Partition, j.rp.Records, req.Acks)
	}
	if len(jobs) > 1 && len(r.frame) >= parallelProduceBytes && runtime.GOMAXPROCS(0) > 1 {
		// Large: validate the partitions' batches on several cores. Their writes go to
		// different partitions, so the order among them does not matter.
		var wg sync.WaitGroup
		for i := range jobs {
			wg.Go(func() { queue(i) })
		}
		wg.Wait()
	} else {
		for i := range jobs {
			queue(i)
		}
	}
	if r.markOrdered != nil {
		r.markOrdered()
	}
	for i, j := range jobs {
		res, err := waits[i]()
		setProduceResult(req.Version, j.out, res, err)
	}

	if req.Acks == 0 {
		return nil, nil
	}
	return resp, nil
}

// setProduceResult fills one partition's answer.
func setProduceResult(version int16, out *kmsg.ProduceResponseTopicPartition, res ProduceResult, err error) {
	if err != nil {
		out.ErrorCode = errCode(err)
		out.BaseOffset, out.LogAppendTime, out.LogStartOffset = -1, -1, -1
		if version >= 8 {
			out.ErrorMessage = errMessage(err)
		}
		return
	}
	out.BaseOffset = res.BaseOffset
	out.LogAppendTime = res.LogAppendTime
	out.LogStartOffset = res.LogStartOffset
}
