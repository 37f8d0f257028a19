package kafka

// DescribeConfigs, versions 0-4.
//
// Resources of type topic (2) and broker (4) are answered from Backend.DescribeConfigs; a
// broker resource must name this node or be "" (cluster default), anything else, like any
// other resource type, is INVALID_REQUEST for that resource alone. Null or empty
// ConfigNames ask for every config. Each entry carries ReadOnly and IsDefault (v0 reads
// them; IsDefault is also set for Source 5), Source (v1+) and ConfigType (v3+) as the
// Backend gives them; sensitive values are answered null. IncludeSynonyms (v1+) yields the
// entry itself as its only synonym; IncludeDocumentation (v3+) is accepted and answered
// with null documentation.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { register(32, 0, 4, handleDescribeConfigs) }

func handleDescribeConfigs(_ context.Context, s *Server, r *Request) (kmsg.Response, error) {
	req, err := requestBody[*kmsg.DescribeConfigsRequest](r)
	if err != nil {
		return nil, err
	}
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, rr := range req.Resources {
		st := kmsg.NewDescribeConfigsResponseResource()
		st.ResourceType, st.ResourceName = rr.ResourceType, rr.ResourceName
		entries, err := describeOneResource(s, rr)
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCode(err), errMessage(err)
			resp.Resources = append(resp.Resources, st)
			continue
		}
		st.Configs = make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
		for _, e := range entries {
			st.Configs = append(st.Configs, describedConfig(e, req.Version >= 1 && req.IncludeSynonyms))
		}
		resp.Resources = append(resp.Resources, st)
	}
	return resp, nil
}

// describeOneResource checks a resource and asks the Backend for its configs.
func describeOneResource(s *Server, rr kmsg.DescribeConfigsRequestResource) ([]ConfigEntry, error) {
	if err := checkConfigResource(s, rr.ResourceType, rr.ResourceName); err != nil {
		return nil, err
	}
	keys := rr.ConfigNames
	if len(keys) == 0 {
		keys = nil
	}
	return s.backend.DescribeConfigs(int8(rr.ResourceType), rr.ResourceName, keys)
}

// describedConfig converts one ConfigEntry to its response form.
func describedConfig(e ConfigEntry, synonyms bool) kmsg.DescribeConfigsResponseResourceConfig {
	rc := kmsg.NewDescribeConfigsResponseResourceConfig()
	rc.Name = e.Name
	if !e.Sensitive {
		rc.Value = e.Value
	}
	rc.ReadOnly = e.ReadOnly
	rc.IsDefault = e.IsDefault || kmsg.ConfigSource(e.Source) == kmsg.ConfigSourceDefaultConfig
	rc.Source = kmsg.ConfigSource(e.Source)
	rc.IsSensitive = e.Sensitive
	rc.ConfigType = kmsg.ConfigType(e.Type)
	if synonyms {
		syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
		syn.Name, syn.Value, syn.Source = rc.Name, rc.Value, rc.Source
		rc.ConfigSynonyms = append(rc.ConfigSynonyms, syn)
	}
	return rc
}
