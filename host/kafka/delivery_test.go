package kafka

import (
	"reflect"
	"testing"

	ck "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// Consecutive successes on one partition become one report; a failure is
// reported alone, and events that are not messages are skipped.
func TestAppendDeliveryRuns(t *testing.T) {
	a, b := "a", "b"
	failed := ck.NewError(ck.ErrMsgTimedOut, "timed out", false)
	msg := func(topic *string, p int32, err error) ck.Event {
		return &ck.Message{TopicPartition: ck.TopicPartition{Topic: topic, Partition: p, Error: err}}
	}
	events := []ck.Event{
		msg(&a, 0, nil), msg(&a, 0, nil), msg(&a, 1, nil), msg(&b, 1, nil),
		ck.NewError(ck.ErrTransport, "broker down", false),
		msg(&b, 1, nil), msg(&b, 1, failed), msg(&b, 1, nil), msg(&b, 1, nil),
	}
	var got []Delivery
	for _, ev := range events {
		got = appendDelivery(got, ev)
	}
	want := []Delivery{
		{Topic: "a", Partition: 0, Count: 2}, {Topic: "a", Partition: 1, Count: 1}, {Topic: "b", Partition: 1, Count: 2},
		{Topic: "b", Partition: 1, Count: 1, Err: failed}, {Topic: "b", Partition: 1, Count: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reports\n got %+v\nwant %+v", got, want)
	}
}
