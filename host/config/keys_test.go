package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Bug: a worker key Ferry does not know (a typo such as
// offset.flush.intervall.ms) was dropped without a word, so the setting
// silently kept its default; Kafka Connect warns for each. Kafka Connect
// keys that Ferry accepts but ignores were just as silent.
func TestUnusedWorkerKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want *UnusedKey // nil: Ferry uses the key, nothing to report
	}{
		// Used by Ferry, exact or under a prefix it passes on.
		{key: "bootstrap.servers"},
		{key: "offset.flush.interval.ms"},
		{key: "task.shutdown.graceful.timeout.ms"},
		{key: "ferry.allowed.paths"},
		{key: "ferry.startup.timeout.ms"},
		{key: "ferry.plugin.heartbeat.timeout.ms"},
		{key: "producer.linger.ms"},
		{key: "consumer.fetch.min.bytes"},
		{key: "key.converter.schemas.enable"},
		{key: "value.converter.schemas.enable"},
		// Typos, with a suggestion.
		{key: "offset.flush.intervall.ms", want: &UnusedKey{Status: KeyUnknown, Suggestion: "offset.flush.interval.ms"}},
		{key: "offset.storage.file.filname", want: &UnusedKey{Status: KeyUnknown, Suggestion: "offset.storage.file.filename"}},
		{key: "lsiteners", want: &UnusedKey{Status: KeyUnknown, Suggestion: "listeners"}},
		{key: "Bootstrap.Servers", want: &UnusedKey{Status: KeyUnknown, Suggestion: "bootstrap.servers"}},
		{key: "ferry.data.dri", want: &UnusedKey{Status: KeyUnknown, Suggestion: "ferry.data.dir"}},
		{key: "ssl.keystore.locaton", want: &UnusedKey{Status: KeyUnknown, Suggestion: "ssl.keystore.location"}},
		{key: "prodcuer.linger.ms", want: &UnusedKey{Status: KeyUnknown, Suggestion: "producer.linger.ms"}},
		{key: "value.convertor.schemas.enable", want: &UnusedKey{Status: KeyUnknown, Suggestion: "value.converter.schemas.enable"}},
		// Unknown, nothing close.
		{key: "name", want: &UnusedKey{Status: KeyUnknown}},
		{key: "tasks.max", want: &UnusedKey{Status: KeyUnknown}},
		{key: "zzz", want: &UnusedKey{Status: KeyUnknown}},
		{key: "", want: &UnusedKey{Status: KeyUnknown}},
		{key: "internal.key.converter", want: &UnusedKey{Status: KeyUnknown}}, // removed in Kafka 3.0
		// Kafka Connect keys Ferry ignores.
		{key: "exactly.once.source.support", want: &UnusedKey{Status: KeyIgnored, Reason: whyDistributed}},
		// Distributed mode's keys, in standalone mode.
		{key: "group.id", want: &UnusedKey{Status: KeyIgnored, Reason: "used in distributed mode only"}},
		{key: "config.storage.topic", want: &UnusedKey{Status: KeyIgnored, Reason: "used in distributed mode only"}},
		{key: "security.protocol", want: &UnusedKey{Status: KeyIgnored, Reason: whyClient}},
		{key: "admin.request.timeout.ms", want: &UnusedKey{Status: KeyIgnored, Reason: whyClient}},
		{key: "admin.listeners", want: &UnusedKey{Status: KeyIgnored, Reason: whyREST}},
		{key: "admin.listeners.https.ssl.keystore.location", want: &UnusedKey{Status: KeyIgnored, Reason: whyREST}},
		{key: "listeners.https.ssl.key.password", want: &UnusedKey{Status: KeyIgnored, Reason: whyREST}},
		{key: "metrics.context.env", want: &UnusedKey{Status: KeyIgnored, Reason: whyMetrics}},
		{key: "header.converter", want: &UnusedKey{Status: KeyIgnored, Reason: whyHeaders}},
		{key: "config.providers.file.class", want: &UnusedKey{Status: KeyIgnored, Reason: whyProviders}},
		{key: "plugin.discovery", want: &UnusedKey{Status: KeyIgnored, Reason: whyPlugins}},
	} {
		got := UnusedWorkerKeys(map[string]string{tc.key: "v"}, false)
		var want []UnusedKey
		if tc.want != nil {
			w := *tc.want
			w.Key = tc.key
			want = []UnusedKey{w}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("UnusedWorkerKeys(%q) = %+v, want %+v", tc.key, got, want)
		}
	}
}

func TestUnusedWorkerKeysSortedAndQuiet(t *testing.T) {
	t.Parallel()
	props, err := ParseProperties([]byte(`
bootstrap.servers=localhost:9092
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.storage.file.filename=/tmp/connect.offsets
offset.flush.interval.ms=10000
plugin.path=/usr/share/java
`))
	if err != nil {
		t.Fatal(err)
	}
	// Kafka's own config/connect-standalone.properties: nothing to say.
	if got := UnusedWorkerKeys(props, false); len(got) != 0 {
		t.Errorf("connect-standalone.properties: %v", got)
	}
	props["zeta"], props["alpha"], props["group.id"] = "", "", "connect-cluster"
	var keys []string
	for _, u := range UnusedWorkerKeys(props, false) {
		keys = append(keys, u.Key)
	}
	if want := []string{"alpha", "group.id", "zeta"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
}

func TestUnusedKeyString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		u    UnusedKey
		want string
	}{
		{UnusedKey{Key: "offset.flush.intervall.ms", Status: KeyUnknown, Suggestion: "offset.flush.interval.ms"},
			`unknown worker key "offset.flush.intervall.ms": did you mean "offset.flush.interval.ms"?`},
		{UnusedKey{Key: "a\nb", Status: KeyUnknown}, `unknown worker key "a\nb"`},
		{UnusedKey{Key: "group.id", Status: KeyIgnored, Reason: whyDistributed},
			`worker key "group.id" is a Kafka Connect setting that Ferry ignores: distributed mode does not support it yet`},
	} {
		if got := tc.u.String(); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}
}

// TestWorkerKeyTableMatchesNewWorker keeps the key table and NewWorker
// from drifting apart: every key-shaped string literal in NewWorker must
// be in the table as used, and every used key in the table must appear in
// NewWorker (a prefix "k." as itself or as its key "k").
func TestWorkerKeyTableMatchesNewWorker(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var decls []ast.Decl
	for _, file := range []string{"worker.go", "distributed.go"} {
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		decls = append(decls, f.Decls...)
	}
	keyShaped := regexp.MustCompile(`^[a-z][a-z0-9]*(\.[a-z0-9]+)*\.?$`)
	literals := map[string]bool{}
	for _, d := range decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || (fn.Name.Name != "newWorker" && fn.Name.Name != "NewDistributed") {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				// NewDistributed's values (eager, http) have no dot; its
				// topic prefixes are listed as topic settings instead.
				if s, err := strconv.Unquote(lit.Value); err == nil && keyShaped.MatchString(s) &&
					!(fn.Name.Name == "NewDistributed" && (!strings.Contains(s, ".") || strings.HasSuffix(s, ".storage."))) {
					literals[s] = true
				}
			}
			return true
		})
	}
	if len(literals) < 10 {
		t.Fatalf("found only %v in NewWorker: has it moved?", literals)
	}
	for lit := range literals {
		if k, ok := lookupWorkerKey(lit); !ok || !k.used || k.name != lit {
			t.Errorf("NewWorker reads %q, which the worker key table does not list as used", lit)
		}
	}
	for _, k := range workerKeys {
		if k.used && !literals[k.name] {
			t.Errorf("the worker key table lists %q as used, but NewWorker does not read it", k.name)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "abc", 0},
		{"abc", "abd", 1},
		{"abc", "acb", 1}, // one swap
		{"abc", "abcd", 1},
		{"abcd", "abc", 1},
		{"intervall", "interval", 1},
		{"ab", "ba", 1},
		{"abcdef", "badcfe", 3}, // capped at limit+1
		{"a", "abcdefgh", 3},
	} {
		if got := editDistance(tc.a, tc.b, 2); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
