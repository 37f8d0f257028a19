package main

import (
	"os"
	"strings"
)

// envPrefix starts the name of every environment variable chronik-server reads.
const envPrefix = "CHRONIK_"

// envName is the environment variable that sets the flag called name:
// CHRONIK_ followed by the flag name in upper case with dashes turned into underscores
// (kafka-port -> CHRONIK_KAFKA_PORT).
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// lookupEnv reads one environment variable. An empty value counts as unset, so
// `CHRONIK_X= chronik-server ...` falls back to the config file or the default.
type lookupEnv func(name string) (string, bool)

// osEnv is the process environment.
func osEnv(name string) (string, bool) {
	v, ok := os.LookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

// mapEnv is an environment made of a map (tests).
func mapEnv(m map[string]string) lookupEnv {
	return func(name string) (string, bool) {
		v, ok := m[name]
		if !ok || strings.TrimSpace(v) == "" {
			return "", false
		}
		return v, true
	}
}
