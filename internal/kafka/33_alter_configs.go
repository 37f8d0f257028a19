package kafka

// AlterConfigs (the non-incremental one), versions 0-2.
//
// Each resource becomes one Backend.AlterConfigs call with incremental=false, its configs
// passed in request order as ConfigOps with Op 0 (set) and the value as sent (possibly
// null); the Backend replaces the resource's non-default configs with that set, or only
// validates when ValidateOnly. Resources are checked as for DescribeConfigs (topic or
// this broker, else INVALID_REQUEST); a resource named twice is INVALID_REQUEST.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(33, 0, 2, handleAlterConfigs) }

func handleAlterConfigs(ctx context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.AlterConfigsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	dups := duplicateResources(len(req.Resources), func(i int) configResourceKey {
		return configResourceKey{req.Resources[i].ResourceType, req.Resources[i].ResourceName}
	})
	for _, rr := range req.Resources {
		st := kmsg.NewAlterConfigsResponseResource()
		st.ResourceType, st.ResourceName = rr.ResourceType, rr.ResourceName
		var err error
		if dups[configResourceKey{rr.ResourceType, rr.ResourceName}] {
			err = adminErrorf(kerr.InvalidRequest, "resource %q of type %d named more than once", rr.ResourceName, int8(rr.ResourceType))
		} else if err = checkConfigResource(s, rr.ResourceType, rr.ResourceName); err == nil {
			ops := make([]ConfigOp, 0, len(rr.Configs))
			for _, c := range rr.Configs {
				ops = append(ops, ConfigOp{Name: c.Name, Value: c.Value, Op: 0})
			}
			err = s.backend.AlterConfigs(ctx, int8(rr.ResourceType), rr.ResourceName, ops, false, req.ValidateOnly)
		}
		st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
		resp.Resources = append(resp.Resources, st)
	}
	return resp, nil
}
