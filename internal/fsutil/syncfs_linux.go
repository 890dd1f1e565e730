package fsutil

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// SyncFS makes everything written to the file system holding dir durable with one syncfs(2):
// file contents, new files and directories, renames. Creating thousands of partitions at once
// costs one call instead of several fsyncs each. Linux reports writeback errors from syncfs
// since 5.8; older kernels return success regardless.
func SyncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := unix.Syncfs(int(d.Fd()))
	err = d.Close()
	if serr != nil {
		return errors.Join(&os.PathError{Op: "syncfs", Path: dir, Err: serr}, err)
	}
	return err
}
