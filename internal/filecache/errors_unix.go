//go:build unix

package filecache

import (
	"errors"
	"syscall"
)

// tooManyFiles reports whether an open failed because the process or the system is out of
// descriptors.
func tooManyFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}
