// Package envelope is the sealed-file format shared by everything Bulwark encrypts at rest:
// a fixed-size header (docs/format/envelope.md) holding the file's random id and its data key
// wrapped by a keys.Provider under an encryption context that names the file, followed by
// frames sealed with AES-256-GCM under that data key. Each frame's authenticated data binds
// the file id, a number the caller chooses (a file position; a segment binds each batch's base
// offset) and the caller's own fields, so an edited byte or a frame from another file fails to
// open with ErrTampered, and a frame moved within the file is caught by that number.
//
// A Sealer is safe for concurrent Seal and Open calls (AES-GCM holds no per-call state).
// Rewrap rewrites only a header; Shred zeroes a header before removing the file.
package envelope
