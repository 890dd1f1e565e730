//go:build !unix

package broker

import "os"

// lockFile is a no-op where flock is unavailable; only one process may use a data directory.
func lockFile(*os.File) error { return nil }
