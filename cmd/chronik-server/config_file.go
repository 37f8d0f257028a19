package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// fileSetting is one `name = value` line of a config file.
type fileSetting struct {
	name  string // the flag name it sets
	value string
	line  int
}

// where names the line in error messages: "chronik.conf:12".
func (s fileSetting) where(path string) string { return fmt.Sprintf("%s:%d", path, s.line) }

// readConfigFile reads a config file: one setting a line, `name = value` or `name: value`,
// where name is a flag name (kafka-port; underscores work too). Blank lines and lines
// starting with # are skipped; an unquoted value may end in a ` # comment`; a value may
// be wrapped in single or double quotes. A name given twice is an error.
func readConfigFile(path string) ([]fileSetting, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	var out []fileSetting
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		s, ok, err := parseConfigLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if !ok {
			continue
		}
		if first, dup := seen[s.name]; dup {
			return nil, fmt.Errorf("%s:%d: %s is already set on line %d", path, n, s.name, first)
		}
		seen[s.name] = n
		s.line = n
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return out, nil
}

// parseConfigLine parses one line; ok is false for blank and comment lines.
func parseConfigLine(line string) (s fileSetting, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return s, false, nil
	}
	// The name cannot hold '=' or ':', so the first of them ends it (values such as
	// host:port may hold more).
	sep := strings.IndexAny(line, "=:")
	if sep < 0 {
		return s, false, fmt.Errorf("expected `name = value` or `name: value`, got %q", line)
	}
	name := strings.TrimSpace(line[:sep])
	value := strings.TrimSpace(line[sep+1:])
	if name == "" {
		return s, false, fmt.Errorf("missing setting name before %q", line[sep:sep+1])
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return s, false, fmt.Errorf("%q is not a setting name (use the flag names, e.g. kafka-port)", name)
		}
	}
	name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	if len(value) > 0 && (value[0] == '"' || value[0] == '\'') {
		end := strings.IndexByte(value[1:], value[0])
		if end < 0 {
			return s, false, fmt.Errorf("%s: unterminated quote in %s", name, value)
		}
		rest := strings.TrimSpace(value[end+2:])
		if rest != "" && !strings.HasPrefix(rest, "#") {
			return s, false, fmt.Errorf("%s: unexpected %q after the quoted value", name, rest)
		}
		value = value[1 : end+1]
	} else if strings.HasPrefix(value, "#") {
		value = ""
	} else if i := strings.Index(value, " #"); i >= 0 {
		value = strings.TrimSpace(value[:i])
	} else if i := strings.Index(value, "\t#"); i >= 0 {
		value = strings.TrimSpace(value[:i])
	}
	return fileSetting{name: name, value: value}, true, nil
}
