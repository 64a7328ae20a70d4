//go:build !unix

package broker

import (
	"errors"
	"os"
)

// mapFile is not available here: the journal writes its segments.
func mapFile(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmapFile([]byte) error { return nil }

func dropPages([]byte) error { return nil }
