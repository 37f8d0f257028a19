package kafka

// ApiVersions (key 18): v0-v4.
//
// Answers every registered API key with its version range, straight from the
// registration table, so the advertised versions are exactly what the dispatcher accepts.
// Finalized and supported features are empty (no KIP-584 features), throttle is 0.
//
// A version above v4 is not decoded at all: the connection answers it with a v0 body
// carrying UNSUPPORTED_VERSION and the full key list (see conn.go), as Kafka does, so the
// client retries at a version we serve. The response header is always v0.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(18, 0, 4, handleApiVersions) }

func handleApiVersions(_ context.Context, _ *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.ApiVersionsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.ApiKeys = apiVersionKeys()
	resp.FinalizedFeaturesEpoch = -1
	return resp, nil
}

// apiVersionKeys lists the registered keys and version ranges in key order.
func apiVersionKeys() []kmsg.ApiVersionsResponseApiKey {
	as := supportedAPIs()
	out := make([]kmsg.ApiVersionsResponseApiKey, 0, len(as))
	for _, a := range as {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.minVersion, a.maxVersion
		out = append(out, k)
	}
	return out
}
