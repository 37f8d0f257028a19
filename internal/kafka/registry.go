package kafka

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handler answers one decoded request. It returns the response to send, or nil for a
// request that gets no response (Produce with acks=0). A returned error closes the
// connection (Kafka's answer to requests it cannot answer at all).
type handler func(ctx context.Context, s *Server, r *Request) (kmsg.Response, error)

// api is one supported API key with the versions it is answered at.
type api struct {
	key        int16
	minVersion int16
	maxVersion int16
	handle     handler
}

// apis is the registration table: every file NN_name.go registers its key from init.
// ApiVersions answers from this table, so it advertises exactly what is registered.
var apis = map[int16]api{}

// register adds an API key to the table. It panics on a duplicate key, which is a
// programming error caught by any test.
func register(key, minVersion, maxVersion int16, h handler) {
	if _, dup := apis[key]; dup {
		panic("kafka: api key registered twice")
	}
	apis[key] = api{key: key, minVersion: minVersion, maxVersion: maxVersion, handle: h}
}

// supportedAPIs lists the registered keys in key order.
func supportedAPIs() []api {
	out := make([]api, 0, len(apis))
	for _, a := range apis {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}
