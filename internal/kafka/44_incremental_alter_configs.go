package kafka

// IncrementalAlterConfigs, versions 0-1.
//
// Each resource becomes one Backend.AlterConfigs call with incremental=true, its configs
// passed in request order as ConfigOps (Op 0 set, 1 delete, 2 append, 3 subtract).
// Before the Backend is asked, a resource is INVALID_REQUEST when it is named twice, is not
// a topic or this broker, names a config twice, uses an unknown op, or sends a null value
// with an op other than delete. ValidateOnly is passed through.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

func handleIncrementalAlterConfigs(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.IncrementalAlterConfigsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	dups := duplicateResources(len(req.Resources), func(i int) configResourceKey {
		return configResourceKey{req.Resources[i].ResourceType, req.Resources[i].ResourceName}
	})
	for _, rr := range req.Resources {
		st := kmsg.NewIncrementalAlterConfigsResponseResource()
		st.ResourceType, st.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[configResourceKey{rr.ResourceType, rr.ResourceName}] {
			err = adminErrorf(kerr.InvalidRequest, "resource %q of type %d named more than once", rr.ResourceName, int8(rr.ResourceType))
		} else if err = checkConfigResource(s, rr.ResourceType, rr.ResourceName); err == nil {
			var ops []ConfigOp
			if ops, err = incrementalOps(rr.Configs); err == nil {
				err = s.backend.AlterConfigs(ctx, int8(rr.ResourceType), rr.ResourceName, ops, true, req.ValidateOnly)
			}
		}
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Resources = append(resp.Resources, st)
	}
	return resp, nil
}

// incrementalOps converts and checks the configs of one resource.
func incrementalOps(configs []kmsg.IncrementalAlterConfigsRequestResourceConfig) ([]ConfigOp, error) {
	ops := make([]ConfigOp, 0, len(configs))
	seen := make(map[string]bool, len(configs))
	for _, c := range configs {
		if seen[c.Name] {
			return nil, adminErrorf(kerr.InvalidRequest, "config %q named more than once", c.Name)
		}
		seen[c.Name] = true
		switch c.Op {
		case kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpAppend, kmsg.IncrementalAlterConfigOpSubtract:
			if c.Value == nil {
				return nil, adminErrorf(kerr.InvalidRequest, "null value not supported for config %q", c.Name)
			}
		case kmsg.IncrementalAlterConfigOpDelete:
		default:
			return nil, adminErrorf(kerr.InvalidRequest, "unknown alter config operation %d for config %q", int8(c.Op), c.Name)
		}
		ops = append(ops, ConfigOp{Name: c.Name, Value: c.Value, Op: int8(c.Op)})
	}
	return ops, nil
}
