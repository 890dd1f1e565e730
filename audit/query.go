package audit

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Filter selects records for `bulwark audit query`. Zero fields match everything.
type Filter struct {
	Since, Until time.Time
	// Principal matches userIdentity.principal, .arn or .claimed exactly.
	Principal string
	// Event matches eventName or eventType exactly.
	Event string
	// Resource matches requestParameters.resourceName or any listed resource's name.
	Resource string
	// Outcome is "success" (no errorCode) or "failure".
	Outcome string
}

// Match reports whether a record passes the filter.
func (f *Filter) Match(r *Record) bool {
	if !f.Since.IsZero() || !f.Until.IsZero() {
		t, err := time.Parse(time.RFC3339Nano, r.EventTime)
		if err != nil || (!f.Since.IsZero() && t.Before(f.Since)) || (!f.Until.IsZero() && !t.Before(f.Until)) {
			return false
		}
	}
	if f.Principal != "" {
		u := r.UserIdentity
		if u == nil || (u.Principal != f.Principal && u.ARN != f.Principal && u.Claimed != f.Principal) {
			return false
		}
	}
	if f.Event != "" && r.EventName != f.Event && r.EventType != f.Event {
		return false
	}
	if f.Resource != "" && !matchesResource(r.RequestParameters, f.Resource) {
		return false
	}
	switch f.Outcome {
	case "success":
		return r.ErrorCode == ""
	case "failure":
		return r.ErrorCode != ""
	}
	return true
}

func matchesResource(p *RequestParameters, name string) bool {
	if p == nil {
		return false
	}
	if p.ResourceName == name {
		return true
	}
	for _, r := range p.Resources {
		if r.Name == name {
			return true
		}
	}
	return false
}

// Query writes the lines of a stream's files in dir that pass the filter, in order, and
// returns how many it wrote. Checkpoints are left out unless the filter names them.
func Query(dir, stream string, f Filter, limit int, out io.Writer) (int, error) {
	if f.Outcome != "" && f.Outcome != "success" && f.Outcome != "failure" {
		return 0, fmt.Errorf("audit: outcome %q: want success or failure", f.Outcome)
	}
	files, err := listFiles(dir, stream)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sf := range files {
		fh, err := os.Open(sf.path)
		if err != nil {
			return n, fmt.Errorf("audit: %w", err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), maxLineBytes+1)
		for sc.Scan() {
			r, err := decodeLine(sc.Bytes())
			if err != nil || (r.Checkpoint != nil && f.Event == "") || !f.Match(r) {
				continue
			}
			if _, err := fmt.Fprintf(out, "%s\n", strings.TrimSpace(sc.Text())); err != nil {
				_ = fh.Close()
				return n, err
			}
			n++
			if limit > 0 && n >= limit {
				_ = fh.Close()
				return n, nil
			}
		}
		err = sc.Err()
		_ = fh.Close()
		if err != nil {
			return n, fmt.Errorf("audit: %s: %w", sf.path, err)
		}
	}
	return n, nil
}
