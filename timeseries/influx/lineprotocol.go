package influx

import (
	"strconv"
	"strings"

	"github.com/revloop/revloop/timeseries"
)

// tagEscaper escapes what line protocol treats specially in tag values.
// Names (measurements, tag and field keys) match [a-z0-9_] and need none;
// timeseries.Validate keeps backslashes and control characters out of tag
// values.
var tagEscaper = strings.NewReplacer(",", `\,`, "=", `\=`, " ", `\ `)

// stringEscaper escapes string field values.
var stringEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// appendLine appends p as one line of InfluxDB line protocol with a
// nanosecond timestamp, the device as the first tag.
func appendLine(b []byte, p *timeseries.Point) []byte {
	b = append(b, p.Measurement...)
	b = append(b, ",device="...)
	b = append(b, p.Device...) // device ids need no escaping
	for _, t := range p.Tags {
		b = append(b, ',')
		b = append(b, t.Key...)
		b = append(b, '=')
		b = append(b, tagEscaper.Replace(t.Value)...)
	}
	for i, f := range p.Fields {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, ',')
		}
		b = append(b, f.Key...)
		b = append(b, '=')
		switch v := f.Value.(type) {
		case float64:
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		case int64:
			b = strconv.AppendInt(b, v, 10)
			b = append(b, 'i')
		case bool:
			b = strconv.AppendBool(b, v)
		case string:
			b = append(b, '"')
			b = append(b, stringEscaper.Replace(v)...)
			b = append(b, '"')
		}
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Time.UnixNano(), 10)
	return append(b, '\n')
}
