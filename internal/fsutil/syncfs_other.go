//go:build !linux

package fsutil

import "errors"

// SyncFS is Linux's syncfs(2); elsewhere it returns errors.ErrUnsupported and callers fsync
// what they wrote one file at a time.
func SyncFS(string) error { return errors.ErrUnsupported }
