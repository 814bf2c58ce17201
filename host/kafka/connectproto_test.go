package kafka

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// connectVectors reads testdata/connectproto.jsonl: messages written by
// Kafka Connect's own classes (scripts/connectproto-vectors/run).
func connectVectors(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open("testdata/connectproto.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v struct{ Name, Hex string }
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		b, err := hex.DecodeString(v.Hex)
		if err != nil {
			t.Fatal(err)
		}
		out[v.Name] = b
	}
	return out
}

func TestConnectProtocolMatchesKafkaConnect(t *testing.T) {
	t.Parallel()
	java := connectVectors(t)
	assignment := func(version int16) ConnectAssignment {
		return ConnectAssignment{Version: version, Leader: "leader-1", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
			Connectors: []string{"src"}, Tasks: []TaskID{{"src", 0}, {"sink", 2}},
			RevokedConnectors: []string{"old"}, RevokedTasks: []TaskID{{"old", 0}}, Delay: 5000}
	}
	noRevoked := func(version int16) ConnectAssignment {
		return ConnectAssignment{Version: version, Leader: "leader-1", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
			Tasks: []TaskID{{"sink", 1}}}
	}
	a1, a2 := assignment(1), assignment(2)
	subscriptions := map[string]WorkerState{
		"subscription-v0":               {Version: 0, URL: "http://w1:8083/", ConfigOffset: 42},
		"subscription-v1":               {Version: 1, URL: "http://w2:8083/", ConfigOffset: 43, Assignment: &a1},
		"subscription-v1-no-allocation": {Version: 1, URL: "http://w2:8083/", ConfigOffset: 43},
		"subscription-v2":               {Version: 2, URL: "http://w2:8083/", ConfigOffset: 43, Assignment: &a2},
		"subscription-v2-no-allocation": {Version: 2, URL: "http://w2:8083/", ConfigOffset: 43},
	}
	assignments := map[string]ConnectAssignment{
		"assignment-v0": {Leader: "leader-1", LeaderURL: "http://w1:8083/", ConfigOffset: 42,
			Connectors: []string{"src"}, Tasks: []TaskID{{"src", 0}, {"src", 1}}},
		"assignment-v0-mismatch":   {Error: AssignmentConfigMismatch, Leader: "leader-1", LeaderURL: "http://w1:8083/", ConfigOffset: 7},
		"assignment-v1":            a1,
		"assignment-v1-no-revoked": noRevoked(1),
		"assignment-v2":            a2,
		"assignment-v2-no-revoked": noRevoked(2),
	}
	if len(java) != len(subscriptions)+len(assignments) {
		t.Fatalf("%d vectors, want %d: regenerate with scripts/connectproto-vectors/run", len(java), len(subscriptions)+len(assignments))
	}
	for name, want := range subscriptions {
		if got := EncodeSubscription(want); !bytes.Equal(got, java[name]) {
			t.Errorf("%s: encoded\n%x\nKafka Connect wrote\n%x", name, got, java[name])
		}
		got, err := DecodeSubscription(java[name])
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, want)
		}
	}
	for name, want := range assignments {
		if got := EncodeAssignment(want); !bytes.Equal(got, java[name]) {
			t.Errorf("%s: encoded\n%x\nKafka Connect wrote\n%x", name, got, java[name])
		}
		got, err := DecodeAssignment(java[name])
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, want %+v", name, got, want)
		}
	}
}

// Kafka Connect reads a version-1 assignment that ends early with the
// missing fields empty, and any version it does not know as the newest it
// does; a message cut short elsewhere is an error.
func TestConnectProtocolTolerance(t *testing.T) {
	t.Parallel()
	java := connectVectors(t)
	full := java["assignment-v1"]
	head := EncodeAssignment(ConnectAssignment{Version: 1, Leader: "leader-1", LeaderURL: "http://w1:8083/", ConfigOffset: 42})
	cut := head[:len(head)-4-4-4] // without the assigned, revoked and delay fields
	a, err := DecodeAssignment(cut)
	if err != nil || a.Leader != "leader-1" || a.Connectors != nil || a.Delay != 0 {
		t.Errorf("assignment without its lists: %+v, %v", a, err)
	}
	future := append([]byte{0, 3}, full[2:]...)
	if a, err := DecodeAssignment(future); err != nil || a.Version != 3 || a.Delay != 5000 {
		t.Errorf("version-3 assignment: %+v, %v", a, err)
	}
	// Cut inside the header, or inside a list.
	for _, n := range []int{1, 5, 20, len(full) - 30} {
		if a, err := DecodeAssignment(full[:n]); err == nil {
			t.Errorf("assignment cut at %d bytes decoded: %+v", n, a)
		}
	}
	if _, err := DecodeSubscription([]byte{0xff, 0xff}); err == nil {
		t.Error("negative version accepted")
	}
	if _, err := DecodeSubscription(java["subscription-v0"][:10]); err == nil {
		t.Error("subscription cut short accepted")
	}
}

func FuzzDecodeConnectProtocol(f *testing.F) {
	for _, b := range []string{
		"0000000f687474703a2f2f77313a383038332f000000000000002a",
		"0001000000086c65616465722d31000f687474703a2f2f77313a383038332f000000000000002a00000002000373726300000002ffffffff00000000000473696e6b00000001000000020000000100036f6c6400000002ffffffff0000000000001388",
		"0002000f687474703a2f2f77323a383038332f000000000000002bffffffff",
	} {
		raw, _ := hex.DecodeString(b)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// What decodes re-encodes to something that decodes the same.
		if s, err := DecodeSubscription(b); err == nil {
			again, err := DecodeSubscription(EncodeSubscription(s))
			if err != nil || !reflect.DeepEqual(again.Assignment == nil, s.Assignment == nil) || again.URL != s.URL || again.ConfigOffset != s.ConfigOffset {
				t.Errorf("subscription %+v re-decoded as %+v, %v", s, again, err)
			}
		}
		if a, err := DecodeAssignment(b); err == nil {
			if _, err := DecodeAssignment(EncodeAssignment(a)); err != nil {
				t.Errorf("assignment %+v does not re-decode: %v", a, err)
			}
		}
	})
}
