// Package fsutil holds the few file-system steps that durability rests on: fsyncing a directory
// after creating, renaming or removing a file in it, and replacing a small file atomically.
package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// SyncDir fsyncs a directory so that file creations, renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// WriteFileAtomic replaces dir/name with data: write a temporary file, fsync it, rename it over
// the old one, and fsync the directory, so a crash leaves either the old or the new file.
func WriteFileAtomic(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return SyncDir(dir)
}

// ReadFile is os.ReadFile through Open: for the many small files read at start-up.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	n, err := io.ReadFull(f, data)
	if err == io.ErrUnexpectedEOF { // the file shrank since Stat: return what it holds
		err = nil
	}
	return data[:n], err
}
