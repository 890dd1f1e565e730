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
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
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

// WriteNew creates (or truncates) path with data, without fsync: for files made durable later,
// together with many others (FSSync).
func WriteNew(path string, data []byte, perm os.FileMode) error {
	f, err := Open(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

// SyncTree fsyncs every regular file directly in dir, then dir: FSSync's fallback where the
// platform has no syncfs.
func SyncTree(dir string) error {
	entries, err := ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		f, err := Open(filepath.Join(dir, e.Name()), os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return SyncDir(dir)
}
