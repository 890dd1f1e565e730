package config

import (
	"fmt"
	"io"
	"strings"
)

// MaxFileBytes bounds the configuration file read by Parse and Load; real files are a few KiB.
const MaxFileBytes = 4 << 20

// property is one key/value pair of a properties file, with the line it started on.
type property struct {
	key, value string
	line       int
}

// readProperties reads java.util.Properties syntax (Properties.load(Reader) semantics):
//   - natural lines end in \n, \r or \r\n; leading whitespace (space, tab, form feed) is skipped;
//   - a line whose first non-blank character is '#' or '!' is a comment, and is never continued;
//   - a line ending in an odd number of backslashes continues on the next line, whose leading
//     whitespace is dropped;
//   - the key ends at the first unescaped '=', ':' or whitespace; whitespace, then at most one
//     '=' or ':', then whitespace separate it from the value;
//   - escapes \t \n \r \f and \uXXXX are decoded, any other \c stands for c.
//
// Unlike Properties.load(InputStream), the input is read as UTF-8 rather than ISO-8859-1, so
// non-ASCII values need no \u escapes. Every malformed line is reported, not just the first.
func readProperties(r io.Reader) ([]property, []error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, []error{fmt.Errorf("%w: read: %w", ErrSyntax, err)}
	}
	if len(data) > MaxFileBytes {
		return nil, []error{fmt.Errorf("%w: file is larger than %d bytes", ErrSyntax, MaxFileBytes)}
	}
	lines := splitNaturalLines(string(data))
	var props []property
	var errs []error
	for i := 0; i < len(lines); i++ {
		start := i
		l := trimLeading(lines[i])
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		logical := ""
		for {
			if !continues(l) {
				logical += l
				break
			}
			logical += l[:len(l)-1]
			if i+1 >= len(lines) {
				break
			}
			i++
			l = trimLeading(lines[i])
		}
		p, err := splitKeyValue(logical)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: line %d: %v", ErrSyntax, start+1, err))
			continue
		}
		p.line = start + 1
		props = append(props, p)
	}
	return props, errs
}

func splitNaturalLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Split(s, "\n")
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

func trimLeading(s string) string {
	i := 0
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	return s[i:]
}

// continues reports whether a line ends in an odd number of backslashes.
func continues(l string) bool {
	n := 0
	for i := len(l) - 1; i >= 0 && l[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitKeyValue splits a logical line into its unescaped key and value.
func splitKeyValue(l string) (property, error) {
	keyEnd, valStart := len(l), len(l)
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c == '\\' {
			i++
			continue
		}
		if c == '=' || c == ':' || isBlank(c) {
			keyEnd = i
			j := i
			for j < len(l) && isBlank(l[j]) {
				j++
			}
			if j < len(l) && (l[j] == '=' || l[j] == ':') {
				j++
				for j < len(l) && isBlank(l[j]) {
					j++
				}
			}
			valStart = j
			break
		}
	}
	key, err := unescape(l[:keyEnd])
	if err != nil {
		return property{}, err
	}
	val, err := unescape(l[valStart:])
	if err != nil {
		return property{}, fmt.Errorf("key %q: %v", key, err)
	}
	return property{key: key, value: val}, nil
}

// unescape decodes Properties escapes.
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			break // a trailing lone backslash (end of input after a continuation) is dropped
		}
		switch c = s[i]; c {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			r, err := hex4(s[i+1:])
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
			i += 4
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// hex4 decodes the four hex digits of a \uXXXX escape. Surrogate halves (as Java writes
// supplementary characters) become U+FFFD; pairing them is not worth the code in a config file.
func hex4(s string) (rune, error) {
	if len(s) < 4 {
		return 0, fmt.Errorf(`malformed \uxxxx escape`)
	}
	var r rune
	for _, c := range []byte(s[:4]) {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf(`malformed \uxxxx escape`)
		}
		r = r<<4 | rune(d)
	}
	return r, nil
}
