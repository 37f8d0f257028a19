package bench

import "testing"

func TestParseMemAvailable(t *testing.T) {
	const meminfo = "MemTotal:       24557000 kB\nMemFree:          812344 kB\nMemAvailable:    1536000 kB\nBuffers:            1024 kB\n"
	kb, ok := parseMemAvailable(meminfo)
	if !ok || kb != 1536000 {
		t.Fatalf("parseMemAvailable = %d, %v; want 1536000, true", kb, ok)
	}
	for _, bad := range []string{"", "MemTotal: 1 kB\n", "MemAvailable: x kB\n", "MemAvailable: 12 MB\n"} {
		if kb, ok := parseMemAvailable(bad); ok {
			t.Errorf("parseMemAvailable(%q) = %d, true; want false", bad, kb)
		}
	}
}
