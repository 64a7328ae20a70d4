package embedded

import (
	"math"
	"reflect"
	"testing"

	"github.com/revloop/revloop"
	"github.com/revloop/revloop/timeseries"
)

func TestCodecRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		tags   []timeseries.Tag
		fields []timeseries.Field
	}{
		{"no tags", nil, []timeseries.Field{{Key: "kg", Value: 1.5}}},
		{"every type", []timeseries.Tag{{Key: "a", Value: "x"}, {Key: "b", Value: "ÿ z"}}, []timeseries.Field{
			{Key: "f", Value: -0.25}, {Key: "i", Value: int64(math.MinInt64)}, {Key: "j", Value: int64(math.MaxInt64)},
			{Key: "t", Value: true}, {Key: "u", Value: false}, {Key: "s", Value: ""}, {Key: "s2", Value: "E280 1160"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tags, err := decodeTags(appendTags(nil, tc.tags))
			if err != nil || !reflect.DeepEqual(tags, tc.tags) {
				t.Fatalf("tags: %v %#v, want %#v", err, tags, tc.tags)
			}
			fields, err := decodeFields(appendFields(nil, tc.fields))
			if err != nil || !reflect.DeepEqual(fields, tc.fields) {
				t.Fatalf("fields: %v %#v, want %#v", err, fields, tc.fields)
			}
		})
	}
}

func TestMergeFields(t *testing.T) {
	old := []timeseries.Field{{Key: "a", Value: 1.0}, {Key: "b", Value: 2.0}}
	newer := []timeseries.Field{{Key: "b", Value: 3.0}, {Key: "c", Value: true}}
	got := mergeFields(old, newer)
	want := []timeseries.Field{{Key: "a", Value: 1.0}, {Key: "b", Value: 3.0}, {Key: "c", Value: true}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mergeFields = %v, want %v", got, want)
	}
}

func TestBucketOf(t *testing.T) {
	h := int64(BucketWidth)
	tests := []struct {
		ts, want int64
	}{{0, 0}, {h - 1, 0}, {h, 1}, {-1, -1}, {-h, -1}, {-h - 1, -2}}
	for _, tc := range tests {
		if got := bucketOf(tc.ts); got != tc.want {
			t.Errorf("bucketOf(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
}

// FuzzDecodeWALPayload feeds arbitrary bytes to the log decoder, which reads
// whatever a crash or a bad disk left behind: it must error, never panic.
func FuzzDecodeWALPayload(f *testing.F) {
	f.Add(appendWALPoint(nil, "position", "trk-1", 1700000000000000000, appendTags(nil, []timeseries.Tag{{Key: "vehicle", Value: "v"}}),
		appendFields(nil, []timeseries.Field{{Key: "lat", Value: 1.0}, {Key: "sats", Value: int64(3)}})))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = decodeWALPayload(b, func(m string, d revloop.DeviceID, ts int64, tags, fields []byte) error {
			if _, err := decodeTags(tags); err != nil {
				return err
			}
			_, err := decodeFields(fields)
			return err
		})
	})
}

// FuzzDecodeBlock feeds arbitrary bytes to the block and field decoders.
func FuzzDecodeBlock(f *testing.F) {
	f.Add(appendBlockPoint(nil, 5, appendTags(nil, []timeseries.Tag{{Key: "antenna", Value: "1"}}),
		appendFields(nil, []timeseries.Field{{Key: "epc", Value: "E2"}})))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = decodeBlock(b, 0, func(e entry) {
			_, _ = decodeFields(e.fields)
			_, _ = decodeTags(e.tags)
		})
	})
}
