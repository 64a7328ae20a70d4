//go:build !unix

package embedded

import (
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK where advisory locks are unavailable; one
// process per data directory is then up to the operator.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
}
