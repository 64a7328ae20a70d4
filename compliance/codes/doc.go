// Package codes is the reference data that compliance records are validated
// against, shipped inside the binary:
//
//   - the European List of Waste (Commission Decision 2000/532/EC as replaced
//     by Decision 2014/955/EU): six-digit codes, their chapter and sub-chapter,
//     description and whether an entry is hazardous (marked * in the list);
//   - the recovery operations R1–R13 (Annex II) and disposal operations D1–D15
//     (Annex I) of the Waste Framework Directive 2008/98/EC;
//   - the WEEE categories 1–6 of Directive 2012/19/EU, Annex III.
//
// Lookups return revloop.FieldError values (an ErrInvalid) that name the
// unknown code, so the API answers them with a 400 problem naming it.
package codes
