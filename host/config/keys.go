package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// KeyStatus says why a worker key is reported by UnusedWorkerKeys.
type KeyStatus int

const (
	// KeyUnknown is a key that neither Ferry nor Kafka Connect knows,
	// most often a typo. Kafka Connect logs a warning for each; so should
	// the caller.
	KeyUnknown KeyStatus = iota + 1
	// KeyIgnored is a Kafka Connect worker key that Ferry accepts, so that
	// a file written for Kafka Connect works unchanged, but does not act
	// on (a distributed-mode, metrics or REST TLS setting, say). Worth an
	// info line: the setting has no effect.
	KeyIgnored
)

func (s KeyStatus) String() string {
	switch s {
	case KeyUnknown:
		return "unknown"
	case KeyIgnored:
		return "ignored"
	}
	return fmt.Sprintf("KeyStatus(%d)", int(s))
}

// UnusedKey is a worker key that Ferry will not act on.
type UnusedKey struct {
	Key    string
	Status KeyStatus
	// Suggestion is, for a KeyUnknown key, the known key it most likely
	// misspells (for a prefixed key, with the user's suffix kept, e.g.
	// "producer.linger.ms" for "prodcuer.linger.ms"); empty when no known
	// key is close.
	Suggestion string
	// Reason says, for a KeyIgnored key, why Ferry does not use it.
	Reason string
}

// String renders u as one log message. It never includes the key's value,
// which may be a secret (sasl.jaas.config, ssl.keystore.password).
func (u UnusedKey) String() string {
	switch {
	case u.Status == KeyIgnored:
		return fmt.Sprintf("worker key %q is a Kafka Connect setting that Ferry ignores: %s", u.Key, u.Reason)
	case u.Suggestion != "":
		return fmt.Sprintf("unknown worker key %q: did you mean %q?", u.Key, u.Suggestion)
	}
	return fmt.Sprintf("unknown worker key %q", u.Key)
}

// UnusedWorkerKeys returns, sorted by key, every key of a worker's props
// that Ferry will not act on: unknown keys (log each at warn, as Kafka
// Connect does; NewWorker does not reject them, as Kafka Connect does not)
// and Kafka Connect keys Ferry ignores (log each at info). Keys NewWorker
// reads, and keys under the prefixes Ferry passes on (producer.*,
// consumer.*, key.converter.*, value.converter.*), are not reported.
//
// distributed says which mode the worker runs in: a key of the other
// mode's only is reported as ignored. Typical use, after LoadWorker
// succeeds:
//
//	for _, u := range config.UnusedWorkerKeys(w.Raw, false) {
//		if u.Status == config.KeyUnknown {
//			log.Warn(u.String())
//		} else {
//			log.Info(u.String())
//		}
//	}
func UnusedWorkerKeys(props map[string]string, distributed bool) []UnusedKey {
	var out []UnusedKey
	for key := range props {
		k, ok := lookupWorkerKey(key)
		if !ok && distributed && IsTopicSetting(key) {
			continue // passed on to the internal topic
		}
		switch {
		case !ok:
			out = append(out, UnusedKey{Key: key, Status: KeyUnknown, Suggestion: suggestWorkerKey(key)})
		case !k.used:
			out = append(out, UnusedKey{Key: key, Status: KeyIgnored, Reason: k.reason})
		case k.only == onlyDistributed && !distributed:
			out = append(out, UnusedKey{Key: key, Status: KeyIgnored, Reason: "used in distributed mode only"})
		case k.only == onlyStandalone && distributed:
			out = append(out, UnusedKey{Key: key, Status: KeyIgnored, Reason: "used in standalone mode only"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// workerKey is one row of the worker key table: a key, or a prefix when
// the name ends in ".".
type workerKey struct {
	name   string
	used   bool   // NewWorker reads it (or passes the prefix on)
	reason string // why Ferry ignores it, when !used
	only   mode   // the one mode that uses it, if not both
}

// mode restricts a used key to one mode.
type mode uint8

const (
	bothModes mode = iota
	onlyStandalone
	onlyDistributed
)

// Reasons for the keys Ferry accepts and ignores.
const (
	whyDistributed = "distributed mode does not support it yet"
	whyClient      = "Ferry's Kafka clients take their settings from producer.* and consumer.* only"
	whyMetrics     = "Ferry has no Kafka metrics reporters"
	whyREST        = "Ferry's REST server is plain HTTP on listeners, without these options"
	whyHeaders     = "header converters are not supported yet (headers travel as strings)"
	whyProviders   = "config providers are not supported yet"
	whyPlugins     = "Ferry finds plugins by running the binaries in plugin.path"
	whyOverrides   = "per-connector client overrides are not supported yet"
	whyTopics      = "Ferry creates a source's topics itself and does not track topic use"
)

// workerKeys is the one table of worker keys: what Ferry reads, and what
// Kafka Connect's WorkerConfig, StandaloneConfig, DistributedConfig and
// RestServerConfig define that Ferry ignores (Apache Kafka 4.x). A test
// checks that every key NewWorker reads is here as used.
var workerKeys = slices.Concat(
	used(
		// Kafka Connect keys Ferry implements.
		"bootstrap.servers",
		"key.converter", "key.converter.",
		"value.converter", "value.converter.",
		"offset.flush.interval.ms",
		"offset.flush.timeout.ms",
		"task.shutdown.graceful.timeout.ms",
		"plugin.path",
		"listeners",
		"producer.", "consumer.",
		// Ferry's own.
		"ferry.admin.listener",
		"ferry.data.dir",
		"ferry.embedded.port",
		"ferry.restart.max.attempts",
		"ferry.restart.backoff.initial.ms",
		"ferry.restart.backoff.max.ms",
		"ferry.plugin.heartbeat.timeout.ms",
		"ferry.startup.timeout.ms",
		"ferry.allowed.paths",
	),
	only(onlyStandalone, "offset.storage.file.filename"),
	only(onlyDistributed,
		"group.id", "session.timeout.ms", "heartbeat.interval.ms", "rebalance.timeout.ms",
		"worker.sync.timeout.ms", "worker.unsync.backoff.ms",
		"config.storage.topic", "config.storage.replication.factor", "config.storage.partitions",
		"offset.storage.topic", "offset.storage.partitions", "offset.storage.replication.factor",
		"status.storage.topic", "status.storage.partitions", "status.storage.replication.factor",
		"connect.protocol", "scheduled.rebalance.max.delay.ms",
		"rest.advertised.host.name", "rest.advertised.port", "rest.advertised.listener",
	),
	ignored(whyDistributed, "exactly.once.source.support",
		"inter.worker.key.generation.algorithm", "inter.worker.key.size", "inter.worker.key.ttl.ms",
		"inter.worker.signature.algorithm", "inter.worker.verification.algorithms",
	),
	ignored(whyClient,
		// WorkerConfig's and DistributedConfig's own client settings.
		"client.dns.lookup", "client.id", "metadata.max.age.ms", "metadata.recovery.strategy",
		"send.buffer.bytes", "receive.buffer.bytes",
		"reconnect.backoff.ms", "reconnect.backoff.max.ms",
		"retry.backoff.ms", "retry.backoff.max.ms",
		"socket.connection.setup.timeout.ms", "socket.connection.setup.timeout.max.ms",
		"request.timeout.ms", "connections.max.idle.ms", "security.protocol",
		// The admin client's settings.
		"admin.",
		// ConfigDef.withClientSslSupport.
		"ssl.protocol", "ssl.provider", "ssl.cipher.suites", "ssl.enabled.protocols",
		"ssl.keystore.type", "ssl.keystore.location", "ssl.keystore.password", "ssl.key.password",
		"ssl.keystore.key", "ssl.keystore.certificate.chain", "ssl.truststore.certificates",
		"ssl.truststore.type", "ssl.truststore.location", "ssl.truststore.password",
		"ssl.keymanager.algorithm", "ssl.trustmanager.algorithm",
		"ssl.endpoint.identification.algorithm", "ssl.secure.random.implementation",
		"ssl.engine.factory.class",
		// ConfigDef.withClientSaslSupport (DistributedConfig).
		"sasl.mechanism", "sasl.jaas.config", "sasl.client.callback.handler.class",
		"sasl.login.callback.handler.class", "sasl.login.class",
		"sasl.kerberos.service.name", "sasl.kerberos.kinit.cmd",
		"sasl.kerberos.ticket.renew.window.factor", "sasl.kerberos.ticket.renew.jitter",
		"sasl.kerberos.min.time.before.relogin",
		"sasl.login.refresh.window.factor", "sasl.login.refresh.window.jitter",
		"sasl.login.refresh.min.period.seconds", "sasl.login.refresh.buffer.seconds",
		"sasl.login.connect.timeout.ms", "sasl.login.read.timeout.ms",
		"sasl.login.retry.backoff.ms", "sasl.login.retry.backoff.max.ms",
		"sasl.oauthbearer.scope.claim.name", "sasl.oauthbearer.sub.claim.name",
		"sasl.oauthbearer.token.endpoint.url", "sasl.oauthbearer.jwks.endpoint.url",
		"sasl.oauthbearer.jwks.endpoint.refresh.ms",
		"sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
		"sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
		"sasl.oauthbearer.clock.skew.seconds", "sasl.oauthbearer.expected.audience",
		"sasl.oauthbearer.expected.issuer", "sasl.oauthbearer.header.urlencode",
	),
	ignored(whyMetrics,
		"metrics.sample.window.ms", "metrics.num.samples", "metrics.recording.level",
		"metric.reporters", "metrics.context.", "metrics.jmx.",
	),
	ignored(whyREST,
		"admin.listeners", "admin.listeners.https.", "listeners.https.",
		"rest.extension.classes", "access.control.allow.origin", "access.control.allow.methods",
		"response.http.headers.config", "ssl.client.auth",
	),
	ignored(whyHeaders, "header.converter", "header.converter."),
	ignored(whyProviders, "config.providers", "config.providers."),
	ignored(whyPlugins, "plugin.discovery"),
	ignored(whyOverrides, "connector.client.config.override.policy"),
	ignored(whyTopics, "topic.creation.enable", "topic.tracking.enable", "topic.tracking.allow.reset"),
)

func used(names ...string) []workerKey {
	out := make([]workerKey, len(names))
	for i, n := range names {
		out[i] = workerKey{name: n, used: true}
	}
	return out
}

func only(m mode, names ...string) []workerKey {
	out := used(names...)
	for i := range out {
		out[i].only = m
	}
	return out
}

func ignored(reason string, names ...string) []workerKey {
	out := make([]workerKey, len(names))
	for i, n := range names {
		out[i] = workerKey{name: n, reason: reason}
	}
	return out
}

// exactKeys and keyPrefixes index workerKeys; keyPrefixes is sorted
// longest first, so that admin.listeners.https.* is a REST key and not an
// admin client one.
var exactKeys, keyPrefixes = indexWorkerKeys(workerKeys)

// exactNames are exactKeys' names, sorted, so that suggestWorkerKey breaks
// ties the same way on every run.
var exactNames = slices.Sorted(maps.Keys(exactKeys))

func indexWorkerKeys(keys []workerKey) (map[string]workerKey, []workerKey) {
	exact := map[string]workerKey{}
	var prefixes []workerKey
	for _, k := range keys {
		if _, dup := exact[k.name]; dup || slices.ContainsFunc(prefixes, func(p workerKey) bool { return p.name == k.name }) {
			panic("config: worker key listed twice: " + k.name)
		}
		if strings.HasSuffix(k.name, ".") {
			prefixes = append(prefixes, k)
		} else {
			exact[k.name] = k
		}
	}
	sort.SliceStable(prefixes, func(i, j int) bool { return len(prefixes[i].name) > len(prefixes[j].name) })
	return exact, prefixes
}

func lookupWorkerKey(key string) (workerKey, bool) {
	if k, ok := exactKeys[key]; ok {
		return k, true
	}
	for _, p := range keyPrefixes {
		if strings.HasPrefix(key, p.name) {
			return p, true
		}
	}
	return workerKey{}, false
}

// suggestWorkerKey returns the known key closest to an unknown key, or ""
// when none is close enough to be a likely typo: at most 2 edits (an
// insertion, deletion, substitution or swap of neighbours each), and at
// most one edit per 4 characters so that short keys do not match unrelated
// ones. Case is ignored, so Bootstrap.Servers finds bootstrap.servers.
// For prefixes, the key's leading segments are compared with the prefix
// and the rest is kept: prodcuer.acks suggests producer.acks.
func suggestWorkerKey(key string) string {
	const maxEdits = 2
	lower := asciiLower(key)
	best, bestD := "", maxEdits+1
	for _, name := range exactNames {
		if d := editDistance(lower, name, maxEdits); d < bestD {
			best, bestD = name, d
		}
	}
	for _, p := range keyPrefixes {
		cut := afterNthDot(lower, strings.Count(p.name, "."))
		if cut < 0 {
			continue
		}
		if d := editDistance(lower[:cut], p.name, maxEdits); d < bestD {
			best, bestD = p.name+key[cut:], d
		}
	}
	if bestD > maxEdits || bestD*4 > len(key) {
		return ""
	}
	return best
}

// afterNthDot returns the index just past the n-th '.' of s, or -1.
func afterNthDot(s string, n int) int {
	i := 0
	for ; n > 0; n-- {
		j := strings.IndexByte(s[i:], '.')
		if j < 0 {
			return -1
		}
		i += j + 1
	}
	return i
}

// asciiLower lowercases ASCII letters only, so byte offsets into the
// result are offsets into s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// editDistance is the optimal string alignment distance between a and b
// (Levenshtein plus swaps of neighbouring bytes), or limit+1 when it is
// larger than limit.
func editDistance(a, b string, limit int) int {
	if len(a)-len(b) > limit || len(b)-len(a) > limit {
		return limit + 1
	}
	// Three rows of the dynamic programming table: two back, one back,
	// and the current one.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit+1)
}
