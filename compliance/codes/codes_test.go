package codes

import (
	"errors"
	"fmt"
	"testing"

	"github.com/revloop/revloop"
)

func TestListOfWasteCounts(t *testing.T) {
	all := WasteCodes("")
	hazardous := 0
	for _, w := range all {
		if w.Hazardous {
			hazardous++
		}
		if w.Chapter == "" || w.SubChapter == "" || w.Description == "" {
			t.Errorf("%s lacks a chapter, sub-chapter or description", w.Display())
		}
	}
	// Decision 2014/955/EU: 842 entries, 408 of them hazardous, in 20 chapters.
	if len(all) != 842 || hazardous != 408 || len(Chapters()) != 20 {
		t.Fatalf("list has %d entries, %d hazardous, %d chapters; want 842, 408, 20", len(all), hazardous, len(Chapters()))
	}
}

func TestLookupWasteCode(t *testing.T) {
	cases := []struct {
		name, in  string
		want      string
		hazardous bool
		wantErr   bool
	}{
		{"spaced hazardous", "15 01 10*", "150110", true, false},
		{"compact", "150101", "150101", false, false},
		{"dotted", "20.01.36", "200136", false, false},
		{"hazard decided by list", "200135", "200135", true, false},
		{"unknown entry", "15 01 08", "", false, true},
		{"five digits", "15011", "", false, true},
		{"letters", "AB0101", "", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := LookupWasteCode(c.in)
			if c.wantErr {
				var fe *revloop.FieldError
				if !errors.Is(err, revloop.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "ewc_code" {
					t.Fatalf("LookupWasteCode(%q) err = %v, want an ewc_code field error", c.in, err)
				}
				return
			}
			if err != nil || w.Code != c.want || w.Hazardous != c.hazardous {
				t.Fatalf("LookupWasteCode(%q) = %+v, %v", c.in, w, err)
			}
		})
	}
}

func TestOperationsAndWEEE(t *testing.T) {
	ops := Operations()
	if len(ops) != 28 || ops[0].Code != "R1" || ops[12].Code != "R13" || ops[13].Code != "D1" || ops[27].Code != "D15" {
		t.Fatalf("operations out of order or incomplete: %d, first %s", len(ops), ops[0].Code)
	}
	for _, c := range []string{"R12", "r 13", "D13", "d15"} {
		op, err := LookupOperation(c)
		if err != nil || !op.Preliminary {
			t.Errorf("LookupOperation(%q) = %+v, %v; want a preliminary operation", c, op, err)
		}
	}
	if op, _ := LookupOperation("R4"); op.Preliminary || !op.Recovery {
		t.Errorf("R4 = %+v, want final recovery", op)
	}
	for _, bad := range []string{"R14", "D0", "X1", ""} {
		if _, err := LookupOperation(bad); !errors.Is(err, revloop.ErrInvalid) {
			t.Errorf("LookupOperation(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
	if c, err := LookupWEEE(3); err != nil || c.Name != "Lamps" {
		t.Errorf("LookupWEEE(3) = %+v, %v", c, err)
	}
	if _, err := LookupWEEE(7); !errors.Is(err, revloop.ErrInvalid) {
		t.Errorf("LookupWEEE(7) err = %v, want ErrInvalid", err)
	}
}

func ExampleLookupWasteCode() {
	w, _ := LookupWasteCode("150110")
	fmt.Println(w.Display(), w.Hazardous)
	// Output: 15 01 10* true
}
