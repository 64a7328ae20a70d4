package codes

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/revloop/revloop"
)

// Operation is a recovery (R) or disposal (D) operation of Directive 2008/98/EC.
type Operation struct {
	Code        string `json:"code"`
	Recovery    bool   `json:"recovery"`
	Description string `json:"description"`
	// Preliminary marks R12/R13/D13/D14/D15: operations before final recovery
	// or disposal (sorting, compacting, shredding, storage).
	Preliminary bool `json:"preliminary"`
}

var operations = map[string]Operation{}

func init() {
	add := func(code, desc string) {
		operations[code] = Operation{Code: code, Recovery: code[0] == 'R', Description: desc,
			Preliminary: code == "R12" || code == "R13" || code == "D13" || code == "D14" || code == "D15"}
	}
	add("R1", "Use principally as a fuel or other means to generate energy")
	add("R2", "Solvent reclamation/regeneration")
	add("R3", "Recycling/reclamation of organic substances which are not used as solvents (including composting and other biological transformation processes)")
	add("R4", "Recycling/reclamation of metals and metal compounds")
	add("R5", "Recycling/reclamation of other inorganic materials")
	add("R6", "Regeneration of acids or bases")
	add("R7", "Recovery of components used for pollution abatement")
	add("R8", "Recovery of components from catalysts")
	add("R9", "Oil re-refining or other reuses of oil")
	add("R10", "Land treatment resulting in benefit to agriculture or ecological improvement")
	add("R11", "Use of wastes obtained from any of the operations numbered R1 to R10")
	add("R12", "Exchange of wastes for submission to any of the operations numbered R1 to R11 (including dismantling, sorting, crushing, compacting, pelletising, drying, shredding, conditioning, repackaging, separating, blending or mixing)")
	add("R13", "Storage of wastes pending any of the operations numbered R1 to R12 (excluding temporary storage, pending collection, on the site where the waste is produced)")
	add("D1", "Deposit into or on to land (e.g. landfill, etc.)")
	add("D2", "Land treatment (e.g. biodegradation of liquid or sludgy discards in soils, etc.)")
	add("D3", "Deep injection (e.g. injection of pumpable discards into wells, salt domes or naturally occurring repositories, etc.)")
	add("D4", "Surface impoundment (e.g. placement of liquid or sludgy discards into pits, ponds or lagoons, etc.)")
	add("D5", "Specially engineered landfill (e.g. placement into lined discrete cells which are capped and isolated from one another and the environment, etc.)")
	add("D6", "Release into a water body except seas/oceans")
	add("D7", "Release to seas/oceans including sea-bed insertion")
	add("D8", "Biological treatment not specified elsewhere in this Annex which results in final compounds or mixtures which are discarded by means of any of the operations numbered in D1 to D12")
	add("D9", "Physico-chemical treatment not specified elsewhere in this Annex which results in final compounds or mixtures which are discarded by means of any of the operations numbered in D1 to D12 (e.g. evaporation, drying, calcination, etc.)")
	add("D10", "Incineration on land")
	add("D11", "Incineration at sea")
	add("D12", "Permanent storage (e.g. emplacement of containers in a mine, etc.)")
	add("D13", "Blending or mixing prior to submission to any of the operations numbered D1 to D12")
	add("D14", "Repackaging prior to submission to any of the operations numbered D1 to D13")
	add("D15", "Storage pending any of the operations numbered D1 to D14 (excluding temporary storage, pending collection, on the site where the waste is produced)")
}

// LookupOperation returns the operation for an R or D code such as "R12".
// Lower case and a space ("r 12") are accepted.
func LookupOperation(code string) (Operation, error) {
	c := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), " ", ""))
	op, ok := operations[c]
	if !ok {
		return Operation{}, revloop.Invalid("rd_code", "unknown recovery/disposal code %q (want R1-R13 or D1-D15)", code)
	}
	return op, nil
}

// Operations lists every R and D operation, R1..R13 then D1..D15.
func Operations() []Operation {
	out := make([]Operation, 0, len(operations))
	for _, op := range operations {
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Recovery != out[j].Recovery {
			return out[i].Recovery
		}
		a, _ := strconv.Atoi(out[i].Code[1:])
		b, _ := strconv.Atoi(out[j].Code[1:])
		return a < b
	})
	return out
}

// WEEECategory is one of the six categories of Directive 2012/19/EU Annex III.
type WEEECategory struct {
	Number      int    `json:"number"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

var weee = []WEEECategory{
	{1, "Temperature exchange equipment", "Temperature exchange equipment (refrigerators, freezers, air conditioners, heat pumps)"},
	{2, "Screens and monitors", "Screens, monitors, and equipment containing screens having a surface greater than 100 cm2"},
	{3, "Lamps", "Lamps (straight and compact fluorescent lamps, high intensity discharge lamps, LED lamps)"},
	{4, "Large equipment", "Large equipment (any external dimension more than 50 cm), including but not limited to household appliances, IT and telecommunication equipment, consumer equipment, luminaires, equipment reproducing sound or images, musical equipment, electrical and electronic tools, toys, leisure and sports equipment, medical devices, monitoring and control instruments, automatic dispensers, equipment for the generation of electric currents; excluding equipment in categories 1 to 3"},
	{5, "Small equipment", "Small equipment (no external dimension more than 50 cm), including but not limited to household appliances, consumer equipment, luminaires, equipment reproducing sound or images, musical equipment, electrical and electronic tools, toys, leisure and sports equipment, medical devices, monitoring and control instruments, automatic dispensers, equipment for the generation of electric currents; excluding equipment in categories 1 to 3 and 6"},
	{6, "Small IT and telecommunication equipment", "Small IT and telecommunication equipment (no external dimension more than 50 cm)"},
}

// LookupWEEE returns WEEE category n (1-6).
func LookupWEEE(n int) (WEEECategory, error) {
	if n < 1 || n > len(weee) {
		return WEEECategory{}, revloop.Invalid("weee_category", "unknown WEEE category %d (want 1-6)", n)
	}
	return weee[n-1], nil
}

// WEEECategories lists the six categories in order.
func WEEECategories() []WEEECategory { return append([]WEEECategory(nil), weee...) }

// String formats an operation as "R12 Exchange of wastes ...".
func (o Operation) String() string { return fmt.Sprintf("%s %s", o.Code, o.Description) }
