//go:build !unix

package fsutil

import "os"

// Open is os.OpenFile; the Unix version saves the poller's system calls.
func Open(path string, flag int, perm os.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag, perm)
}

// ReadDir is os.ReadDir.
func ReadDir(dir string) ([]os.DirEntry, error) { return os.ReadDir(dir) }
