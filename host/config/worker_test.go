package config

import (
	"strings"
	"testing"
)

// Bug: tasks.max was parsed with strconv.Atoi, which is 64-bit on amd64,
// so 2147483648 (2^31) and above were accepted and then wrapped on the way
// to the plugin, whose tasks.max is an int32: 4294967297 became 1 task,
// 2147483648 a negative count.
func TestParseConnectorTasksMax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		want  int    // TasksMax when valid
		err   string // the tasks.max message when not
	}{
		{value: "1", want: 1},
		{value: " 8 ", want: 8},
		{value: "+3", want: 3}, // Integer.parseInt accepts a plus sign
		{value: "2147483647", want: 2147483647},
		{value: "2147483648", err: "Invalid value 2147483648 for configuration tasks.max: Not a number of type INT"},
		{value: "4294967297", err: "Invalid value 4294967297 for configuration tasks.max: Not a number of type INT"},
		{value: "9223372036854775808", err: "Invalid value 9223372036854775808 for configuration tasks.max: Not a number of type INT"},
		{value: "-2147483649", err: "Invalid value -2147483649 for configuration tasks.max: Not a number of type INT"},
		{value: "-1", err: "Invalid value -1 for configuration tasks.max: Value must be at least 1"},
		{value: "0", err: "Invalid value 0 for configuration tasks.max: Value must be at least 1"},
		{value: "two", err: "Invalid value two for configuration tasks.max: Not a number of type INT"},
		{value: "1.0", err: "Invalid value 1.0 for configuration tasks.max: Not a number of type INT"},
		{value: "1\x002", err: `Invalid value "1\x002" for configuration tasks.max: Not a number of type INT`},
	} {
		c, errs := ParseConnector(map[string]string{"name": "c", "connector.class": "X", "tasks.max": tc.value}, false)
		if tc.err == "" {
			if len(errs) != 0 || c.TasksMax != tc.want {
				t.Errorf("tasks.max=%q: TasksMax %d, errors %v; want %d and no error", tc.value, c.TasksMax, errs, tc.want)
			}
			continue
		}
		if len(errs) != 1 || errs[0].Key != "tasks.max" || errs[0].Message != tc.err {
			t.Errorf("tasks.max=%q: errors %v, want tasks.max: %s", tc.value, errs, tc.err)
		}
	}
}

// Bug: a connector name holding control characters (a "\n" splits the
// worker's log lines and REST output) was accepted, and so were "." and
// "..", which no REST URL can address once the path is cleaned. Kafka
// Connect rejects the first with its NonEmptyStringWithoutControlChars
// validator; Ferry rejects the second too.
func TestParseConnectorName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		desc string
		cfg  map[string]string
		name string // Name when valid
		err  string // the name message when not
	}{
		{desc: "plain", cfg: map[string]string{"name": "local-file-source"}, name: "local-file-source"},
		{desc: "trimmed like Java's String.trim", cfg: map[string]string{"name": " \t a b \r\n"}, name: "a b"},
		{desc: "trailing control characters are trimmed, as by Java", cfg: map[string]string{"name": "a\x00\x1f"}, name: "a"},
		{desc: "non-ASCII", cfg: map[string]string{"name": "caf\u00e9/1"}, name: "caf\u00e9/1"},
		{desc: "dots inside", cfg: map[string]string{"name": "..a."}, name: "..a."},
		{desc: "missing", cfg: map[string]string{}, err: `Missing required configuration "name" which has no default value.`},
		{desc: "empty", cfg: map[string]string{"name": ""}, err: "Invalid value  for configuration name: String may not be empty"},
		{desc: "blank", cfg: map[string]string{"name": " \t\n"}, err: "Invalid value  for configuration name: String may not be empty"},
		{desc: "newline", cfg: map[string]string{"name": "a\nb"},
			err: `Invalid value "a\nb" for configuration name: String may not contain control sequences but had the following ASCII chars: 10`},
		{desc: "every control listed", cfg: map[string]string{"name": "a\tb\x7fc\tz"},
			err: `Invalid value "a\tb\x7fc\tz" for configuration name: String may not contain control sequences but had the following ASCII chars: 9, 127, 9`},
		{desc: "C1 control", cfg: map[string]string{"name": "a\u0085b"},
			err: `Invalid value "a\u0085b" for configuration name: String may not contain control sequences but had the following ASCII chars: 133`},
		{desc: "dot", cfg: map[string]string{"name": "."},
			err: "Invalid value . for configuration name: a connector may not be named . or .. because REST URLs (/connectors/.) cannot address it"},
		{desc: "dot dot, padded", cfg: map[string]string{"name": " .. "},
			err: "Invalid value .. for configuration name: a connector may not be named . or .. because REST URLs (/connectors/..) cannot address it"},
	} {
		tc.cfg["connector.class"] = "X"
		c, errs := ParseConnector(tc.cfg, false)
		if tc.err == "" {
			if len(errs) != 0 || c.Name != tc.name {
				t.Errorf("%s: Name %q, errors %v; want %q and no error", tc.desc, c.Name, errs, tc.name)
			}
			continue
		}
		if len(errs) != 1 || errs[0].Key != "name" || errs[0].Message != tc.err {
			t.Errorf("%s: errors %v\nwant name: %s", tc.desc, errs, tc.err)
		}
		if len(errs) == 1 && strings.ContainsAny(errs[0].Message, "\n\r") {
			t.Errorf("%s: the message breaks a log line: %q", tc.desc, errs[0].Message)
		}
	}
}
