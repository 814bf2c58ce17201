package sdk

import (
	"encoding/json"
	"fmt"
)

// Offsets are the committed offsets a source task starts from, keyed by the
// JSON of their source partition.
type Offsets map[string]map[string]any

// Get returns the offset stored for partition, or nil if there is none.
func (o Offsets) Get(partition map[string]any) map[string]any {
	key, err := json.Marshal(partition)
	if err != nil {
		return nil
	}
	return o[string(key)]
}

// encodeJSONMap encodes a partition or offset map. encoding/json sorts keys,
// so equal maps always give equal bytes: the host matches partitions by
// their bytes.
func encodeJSONMap(m map[string]any) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %v: %w", m, err)
	}
	return b, nil
}

func decodeJSONMap(b []byte) (map[string]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", b, err)
	}
	return m, nil
}
