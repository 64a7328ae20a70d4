package codes

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"github.com/revloop/revloop"
)

// ewcTSV is the List of Waste: one line per chapter ("15"), sub-chapter
// ("15 01") and entry ("15 01 10*"), a tab, then the description.
//
//go:embed ewc.tsv
var ewcTSV string

// WasteCode is one six-digit entry of the European List of Waste.
type WasteCode struct {
	// Code is the six digits without spaces or asterisk, e.g. "150110".
	Code        string `json:"code"`
	Hazardous   bool   `json:"hazardous"`
	Description string `json:"description"`
	Chapter     string `json:"chapter"`
	SubChapter  string `json:"sub_chapter"`
}

// Display formats the code the way the list prints it: "15 01 10*".
func (w WasteCode) Display() string {
	s := w.Code[0:2] + " " + w.Code[2:4] + " " + w.Code[4:6]
	if w.Hazardous {
		s += "*"
	}
	return s
}

var (
	wasteCodes map[string]WasteCode
	wasteOrder []string
	headings   map[string]string // "15" and "1501" to their titles
)

func init() {
	wasteCodes = map[string]WasteCode{}
	headings = map[string]string{}
	for n, line := range strings.Split(strings.TrimSpace(ewcTSV), "\n") {
		code, desc, ok := strings.Cut(line, "\t")
		if !ok {
			panic(fmt.Sprintf("codes: ewc.tsv line %d: no tab", n+1))
		}
		hazardous := strings.HasSuffix(code, "*")
		digits := strings.ReplaceAll(strings.TrimSuffix(code, "*"), " ", "")
		switch len(digits) {
		case 2, 4:
			headings[digits] = desc
		case 6:
			wasteCodes[digits] = WasteCode{Code: digits, Hazardous: hazardous, Description: desc,
				Chapter: headings[digits[:2]], SubChapter: headings[digits[:4]]}
			wasteOrder = append(wasteOrder, digits)
		default:
			panic(fmt.Sprintf("codes: ewc.tsv line %d: bad code %q", n+1, code))
		}
	}
}

// NormalizeWasteCode accepts "15 01 10*", "150110", "15.01.10" or
// "15-01-10*" and returns the six digits and whether an asterisk was given.
func NormalizeWasteCode(s string) (digits string, starred bool, err error) {
	t := strings.TrimSpace(s)
	starred = strings.HasSuffix(t, "*")
	t = strings.TrimSuffix(t, "*")
	t = strings.NewReplacer(" ", "", ".", "", "-", "").Replace(t)
	if len(t) != 6 || strings.Trim(t, "0123456789") != "" {
		return "", false, revloop.Invalid("ewc_code", "%q is not a six-digit List of Waste code", s)
	}
	return t, starred, nil
}

// LookupWasteCode validates a List of Waste code and returns its entry. An
// asterisk on a non-hazardous entry (or none on a hazardous one given with
// spaces as in the list) is accepted: the list decides hazard, not the caller.
func LookupWasteCode(s string) (WasteCode, error) {
	digits, _, err := NormalizeWasteCode(s)
	if err != nil {
		return WasteCode{}, err
	}
	w, ok := wasteCodes[digits]
	if !ok {
		return WasteCode{}, revloop.Invalid("ewc_code", "unknown List of Waste code %q", s)
	}
	return w, nil
}

// WasteCodes lists every entry in list order; chapter filters to one
// two-digit chapter when not empty.
func WasteCodes(chapter string) []WasteCode {
	out := make([]WasteCode, 0, len(wasteOrder))
	for _, c := range wasteOrder {
		if chapter == "" || strings.HasPrefix(c, chapter) {
			out = append(out, wasteCodes[c])
		}
	}
	return out
}

// Chapters returns the two-digit chapters and their titles, in order.
func Chapters() [][2]string {
	var out [][2]string
	for k, v := range headings {
		if len(k) == 2 {
			out = append(out, [2]string{k, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
