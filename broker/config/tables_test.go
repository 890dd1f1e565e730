package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md")

// TestTables checks the key tables themselves: every default passes its own checks, every topic
// synonym is a broker key of a compatible type, and every key is documented.
func TestTables(t *testing.T) {
	for _, tb := range []*table{brokerTable, topicTable} {
		for _, d := range tb.list {
			if d.Doc == "" || !strings.HasSuffix(d.Doc, ".") {
				t.Errorf("%s: doc must be a sentence", d.Name)
			}
			if !d.NoDefault {
				if err := d.check(d.Default); err != nil {
					t.Errorf("%s: default %q fails its own check: %v", d.Name, d.Default, err)
				}
			} else if d.Default != "" {
				t.Errorf("%s: NoDefault with a default", d.Name)
			}
			if d.Type == TypePassword && !d.Sensitive {
				t.Errorf("%s: password not sensitive", d.Name)
			}
			if d.Type < TypeBoolean || d.Type > TypePassword || d.Type.String() == "unknown" {
				t.Errorf("%s: bad type", d.Name)
			}
		}
	}
	for _, d := range brokerTable.list {
		if d.set == nil && !d.NoEffect && d.NotYet == "" && d.group == "" && d.Type != TypePassword {
			// Keys without a typed field are read with Config.ListenerValue; list the deliberate ones.
			switch d.Name {
			case "ssl.principal.mapping.rules", "bulwark.allowed.cidrs":
			default:
				t.Errorf("%s: accepted but neither typed nor marked no-effect", d.Name)
			}
		}
		if strings.HasPrefix(d.Name, "zookeeper.") {
			t.Errorf("%s: rejected keys must not be in the table", d.Name)
		}
	}
	for _, d := range topicTable.list {
		if !d.Dynamic {
			t.Errorf("%s: topic keys are dynamic", d.Name)
		}
		if d.tset == nil && !d.NoEffect {
			t.Errorf("%s: topic key has no TopicConfig field and is not marked no-effect", d.Name)
		}
		for _, s := range d.synonyms {
			b := brokerTable.byName[s.name]
			if b == nil {
				t.Errorf("%s: synonym %s is not a broker key", d.Name, s.name)
				continue
			}
			if !b.Dynamic && s.name != "log.message.format.version" { // Kafka excludes only this one
				t.Errorf("%s: synonym %s must be dynamic, as in Kafka", d.Name, s.name)
			}
			if s.scale == 1 && b.Type != d.Type && !(b.Type == TypeInt && d.Type == TypeLong) {
				t.Errorf("%s: synonym %s type %s vs %s", d.Name, s.name, b.Type, d.Type)
			}
		}
	}
}

// TestDocsCurrent fails when docs/configuration.md does not match the tables. Regenerate with
// go test ./broker/config -run TestDocsCurrent -update.
func TestDocsCurrent(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "configuration.md")
	want := Markdown()
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: go test ./broker/config -run TestDocsCurrent -update", path)
	}
}
