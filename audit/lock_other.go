//go:build !unix

package audit

import "os"

// lockFile is a no-op where flock does not exist; one broker per directory is then the
// operator's to ensure.
func lockFile(*os.File) error { return nil }
