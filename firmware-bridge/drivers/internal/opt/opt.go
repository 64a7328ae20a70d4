// Package opt fills in the options a driver's caller left at zero.
package opt

// Default sets *v to d when *v is the zero value.
func Default[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
