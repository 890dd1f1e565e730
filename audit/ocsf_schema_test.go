package audit

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// ocsfSchema validates records against the OCSF schema's own definition files (vendored in
// testdata/ocsf-1.1.0): the classes' attributes after inheritance and includes, their
// requirements, the dictionary's types and enums, the objects' attributes and constraints. It
// follows the rules the OCSF schema server's validator applies; profiles are not supported,
// so a record may use no profile attribute.
type ocsfSchema struct {
	dir        string
	dict       map[string]ocsfAttr
	baseTypes  map[string]string // a type to its base type (ip_t → string_t)
	categories map[string]int
	objects    map[string]*ocsfDef
}

type ocsfAttr struct {
	Type        string                     `json:"type"`
	ObjectType  string                     `json:"object_type"`
	IsArray     bool                       `json:"is_array"`
	Requirement string                     `json:"requirement"`
	Enum        map[string]json.RawMessage `json:"enum"`
}

type ocsfDef struct {
	Name        string
	UID         int
	Category    string
	Attrs       map[string]ocsfAttr
	Constraints map[string][]string
}

type ocsfFile struct {
	Name        string                     `json:"name"`
	UID         int                        `json:"uid"`
	Extends     string                     `json:"extends"`
	Category    string                     `json:"category"`
	Attributes  map[string]json.RawMessage `json:"attributes"`
	Constraints map[string][]string        `json:"constraints"`
}

func loadOCSFSchema(t *testing.T, dir string) *ocsfSchema {
	t.Helper()
	s := &ocsfSchema{dir: dir, dict: map[string]ocsfAttr{}, baseTypes: map[string]string{}, categories: map[string]int{}, objects: map[string]*ocsfDef{}}
	var dict struct {
		Attributes map[string]ocsfAttr `json:"attributes"`
		Types      struct {
			Attributes map[string]struct {
				Type string `json:"type"`
			} `json:"attributes"`
		} `json:"types"`
	}
	s.readJSON(t, "dictionary.json", &dict)
	s.dict = dict.Attributes
	for name, ty := range dict.Types.Attributes {
		s.baseTypes[name] = name
		if ty.Type != "" {
			s.baseTypes[name] = ty.Type
		}
	}
	var cats struct {
		Attributes map[string]struct {
			UID int `json:"uid"`
		} `json:"attributes"`
	}
	s.readJSON(t, "categories.json", &cats)
	for name, c := range cats.Attributes {
		s.categories[name] = c.UID
	}
	return s
}

func (s *ocsfSchema) readJSON(t *testing.T, rel string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, rel))
	if err != nil {
		t.Fatalf("OCSF schema file %s is not vendored: %v", rel, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// resolve reads a class or object file and everything it extends and includes. A later
// definition of an attribute refines the earlier one field by field, as the schema server does.
func (s *ocsfSchema) resolve(t *testing.T, rel string, find func(name string) string) *ocsfDef {
	t.Helper()
	var f ocsfFile
	s.readJSON(t, rel, &f)
	def := &ocsfDef{Name: f.Name, UID: f.UID, Category: f.Category, Attrs: map[string]ocsfAttr{}, Constraints: f.Constraints}
	if f.Extends != "" {
		parent := s.resolve(t, find(f.Extends), find)
		for k, v := range parent.Attrs {
			def.Attrs[k] = v
		}
		if def.Category == "" {
			def.Category = parent.Category
		}
		if def.Constraints == nil {
			def.Constraints = parent.Constraints
		}
	}
	apply := func(attrs map[string]json.RawMessage) {
		for name, raw := range attrs {
			if name == "$include" {
				continue
			}
			a := def.Attrs[name]
			var over ocsfAttr
			if err := json.Unmarshal(raw, &over); err != nil {
				t.Fatalf("%s: %s: %v", rel, name, err)
			}
			if over.Requirement != "" {
				a.Requirement = over.Requirement
			}
			if over.Enum != nil {
				if a.Enum == nil {
					a.Enum = map[string]json.RawMessage{}
				}
				for k, v := range over.Enum {
					a.Enum[k] = v
				}
			}
			def.Attrs[name] = a
		}
	}
	var includes []string
	if raw, ok := f.Attributes["$include"]; ok {
		_ = json.Unmarshal(raw, &includes)
	}
	for _, inc := range includes {
		if strings.HasPrefix(inc, "profiles/") {
			continue // profiles apply only to records that declare them
		}
		var incFile ocsfFile
		s.readJSON(t, inc, &incFile)
		apply(incFile.Attributes)
	}
	apply(f.Attributes)
	return def
}

// object returns an object's definition.
func (s *ocsfSchema) object(t *testing.T, name string) *ocsfDef {
	t.Helper()
	if o, ok := s.objects[name]; ok {
		return o
	}
	o := s.resolve(t, "objects/"+name+".json", func(n string) string { return "objects/" + n + ".json" })
	s.objects[name] = o
	return o
}

// class returns a class definition from its file under events/.
func (s *ocsfSchema) class(t *testing.T, rel string) *ocsfDef {
	t.Helper()
	dir := filepath.Dir(rel)
	return s.resolve(t, rel, func(n string) string {
		if n == "base_event" {
			return "events/base_event.json"
		}
		return dir + "/" + n + ".json"
	})
}

// validate returns every way doc breaks def's rules.
func (s *ocsfSchema) validate(t *testing.T, def *ocsfDef, doc map[string]any, path string) []string {
	t.Helper()
	var errs []string
	for name, a := range def.Attrs {
		if _, ok := doc[name]; !ok && a.Requirement == "required" {
			errs = append(errs, fmt.Sprintf("%s%s: required attribute missing", path, name))
		}
	}
	for name, v := range doc {
		a, ok := def.Attrs[name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s%s: not an attribute of %s", path, name, def.Name))
			continue
		}
		errs = append(errs, s.checkValue(t, name, a, v, path+name)...)
	}
	for kind, names := range def.Constraints {
		n := 0
		for _, name := range names {
			if _, ok := doc[name]; ok {
				n++
			}
		}
		if (kind == "at_least_one" && n == 0) || (kind == "just_one" && n != 1) {
			errs = append(errs, fmt.Sprintf("%s: constraint %s of %v broken (%d present)", strings.TrimSuffix(path, "."), kind, names, n))
		}
	}
	sort.Strings(errs)
	return errs
}

// checkValue checks one attribute's value against the dictionary's type and the enum in force.
func (s *ocsfSchema) checkValue(t *testing.T, name string, a ocsfAttr, v any, path string) []string {
	t.Helper()
	d, ok := s.dict[name]
	if !ok {
		return []string{path + ": not in the dictionary"}
	}
	if d.IsArray {
		items, ok := v.([]any)
		if !ok {
			return []string{path + ": want an array"}
		}
		var errs []string
		for i, it := range items {
			errs = append(errs, s.checkScalar(t, d, a, it, fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	}
	return s.checkScalar(t, d, a, v, path)
}

func (s *ocsfSchema) checkScalar(t *testing.T, d, a ocsfAttr, v any, path string) []string {
	t.Helper()
	base, isType := s.baseTypes[d.Type]
	if !isType { // an object
		m, ok := v.(map[string]any)
		if !ok {
			return []string{path + ": want an object of " + d.Type}
		}
		if d.Type == "object" {
			return nil // unmapped and friends: any object
		}
		return s.validate(t, s.object(t, d.Type), m, path+".")
	}
	var errs []string
	switch base {
	case "string_t":
		str, ok := v.(string)
		if !ok {
			return []string{path + ": want a string"}
		}
		if d.Type == "ip_t" && net.ParseIP(str) == nil {
			errs = append(errs, path+": not an IP address: "+str)
		}
	case "integer_t", "long_t":
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return []string{path + ": want an integer"}
		}
		if base == "integer_t" && (f > math.MaxInt32 || f < math.MinInt32) {
			errs = append(errs, path+": out of a 32-bit integer's range")
		}
		if d.Type == "port_t" && (f < 0 || f > 65535) {
			errs = append(errs, path+": not a port")
		}
		enum := d.Enum
		if name := path[strings.LastIndexByte(path, '.')+1:]; name == "category_uid" || name == "class_uid" || name == "type_uid" {
			enum = nil // the schema server builds these enums from the categories and classes; checked apart
		} else if a.Enum != nil {
			enum = map[string]json.RawMessage{}
			for k, v := range d.Enum {
				enum[k] = v
			}
			for k, v := range a.Enum {
				enum[k] = v
			}
		}
		if enum != nil {
			if _, ok := enum[strconv.FormatInt(int64(f), 10)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: %v is not one of the enum's values", path, f))
			}
		}
	case "boolean_t":
		if _, ok := v.(bool); !ok {
			return []string{path + ": want a boolean"}
		}
	case "float_t":
		if _, ok := v.(float64); !ok {
			return []string{path + ": want a number"}
		}
	case "json_t":
	default:
		errs = append(errs, path+": unknown type "+d.Type)
	}
	return errs
}
