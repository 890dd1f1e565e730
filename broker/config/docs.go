package config

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders docs/configuration.md from the key tables.
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# Bulwark configuration

<!-- Generated from broker/config by TestDocsCurrent; do not edit. Regenerate with:
     go test ./broker/config -run TestDocsCurrent -update -->

Bulwark reads a file in Kafka's server.properties syntax (java.util.Properties: ` + "`#`" + ` and
` + "`!`" + ` comments, ` + "`key=value`" + `, ` + "`key: value`" + ` or ` + "`key value`" + `, backslash line continuation, ` + "`\\uXXXX`" + `
escapes; the file is read as UTF-8). Keys are Kafka's; keys Kafka lacks start with ` + "`bulwark.`" + `.
An unknown key or a bad value stops start-up, and every problem is reported with its key:
` + "`bulwark config check FILE`" + ` runs the same checks. A key set twice takes its last value.
` + "`bulwark serve`" + ` without a file uses the defaults below.

TLS and SASL keys may also be set per listener as ` + "`listener.name.<listener>.<key>`" + `
(and ` + "`listener.name.<listener>.<mechanism>.sasl.jaas.config`" + `). ` + "`zookeeper.*`" + ` keys are
rejected: Bulwark keeps its own metadata log.

**Dynamic** keys can be changed at runtime with AlterConfigs / IncrementalAlterConfigs on the
broker resource (` + "`kafka-configs.sh --entity-type brokers`" + `). Keys marked *accepted, no
effect* are Kafka keys Bulwark accepts so existing files load, but does not act on.

`)
	b.WriteString("## Broker keys\n\n")
	writeTable(&b, brokerTable.list, false)
	b.WriteString("\n## Topic keys\n\n")
	b.WriteString("Set per topic with CreateTopics or AlterConfigs (`kafka-configs.sh --entity-type topics`). " +
		"A topic without an override takes the value of its broker synonyms, in the order listed, " +
		"and the default only when none is set.\n\n")
	writeTable(&b, topicTable.list, true)
	return b.Bytes()
}

func writeTable(b *bytes.Buffer, defs []*Def, topic bool) {
	if topic {
		b.WriteString("| Key | Type | Default | Broker synonyms | Description |\n|---|---|---|---|---|\n")
	} else {
		b.WriteString("| Key | Type | Default | Dynamic | Description |\n|---|---|---|---|---|\n")
	}
	for _, d := range defs {
		dflt := "`" + d.Default + "`"
		switch {
		case d.NoDefault:
			dflt = "(none)"
		case d.Default == "":
			dflt = `""`
		}
		doc := d.Doc
		if d.NoEffect {
			doc = "*Accepted, no effect.* " + doc
		}
		if d.NotYet != "" {
			doc = "*Not supported yet: setting it fails start-up (" + d.NotYet + ").* " + doc
		}
		if d.Sensitive {
			doc += " Sensitive: never shown by DescribeConfigs."
		}
		col4 := map[bool]string{true: "yes", false: "no"}[d.Dynamic]
		if topic {
			var names []string
			for _, s := range d.synonyms {
				names = append(names, "`"+s.name+"`")
			}
			col4 = strings.Join(names, ", ")
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", d.Name, d.Type, dflt, col4, escapeCell(doc))
	}
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
