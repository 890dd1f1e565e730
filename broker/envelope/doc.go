// Package envelope is the sealed-file format shared by everything Bulwark encrypts at rest:
// a fixed-size header (docs/format/envelope.md) holding the file's random id and its data key
// wrapped by a keys.Provider under an encryption context that names the file, followed by
// frames sealed with AES-256-GCM under that data key. Each frame's authenticated data binds
// the file id, the frame's position and the caller's own fields (a segment binds offsets), so an
// edited byte, a frame swapped from another place or file, or frames cut out of the middle fail
// to open with ErrTampered.
//
// A Sealer is safe for concurrent Seal and Open calls (AES-GCM holds no per-call state).
// Rewrap rewrites only a header; Shred zeroes a header before removing the file.
package envelope
