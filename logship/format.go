package logship

// Formatted returns a Source whose entries are src's with their data rewritten by format: one
// sink receives the audit trail in OCSF while the others take the lines as written. It rewrites
// before the shipper sizes its batches, so a sink's limits hold for what it is sent. An entry
// format refuses goes as it is (the line is never dropped).
func Formatted(src Source, format func([]byte) ([]byte, error)) Source {
	return formatted{src: src, format: format}
}

type formatted struct {
	src    Source
	format func([]byte) ([]byte, error)
}

func (f formatted) Read(after uint64, max int) ([]Entry, error) {
	entries, err := f.src.Read(after, max)
	for i := range entries {
		if out, ferr := f.format(entries[i].Data); ferr == nil {
			entries[i].Data = out
		}
	}
	return entries, err
}

func (f formatted) Wait(after uint64) <-chan struct{} { return f.src.Wait(after) }

// End passes on the source's end, when it has one (see Source).
func (f formatted) End() uint64 {
	if e, ok := f.src.(interface{ End() uint64 }); ok {
		return e.End()
	}
	return ^uint64(0)
}
