//go:build !linux

package fsutil

import "errors"

// FSSync is Linux's syncfs(2); elsewhere Sync returns errors.ErrUnsupported and callers fsync
// what they wrote one file at a time.
type FSSync struct{}

// OpenFSSync returns an FSSync whose Sync is unsupported.
func OpenFSSync(string) (*FSSync, error) { return &FSSync{}, nil }

// Sync returns errors.ErrUnsupported.
func (*FSSync) Sync() error { return errors.ErrUnsupported }

// ReportsErrors is false: Sync does nothing.
func (*FSSync) ReportsErrors() bool { return false }

// Close does nothing.
func (*FSSync) Close() error { return nil }
