package main

import (
	"fmt"
	"io"

	"github.com/bulwark-kafka/bulwark/broker/config"
)

// cmdConfig implements `bulwark config check FILE`: it reports every problem in the file (each
// naming its key) and exits 1, or prints "ok" and exits 0.
func cmdConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: bulwark config check FILE")
		return 2
	}
	if _, err := config.Load(args[1]); err != nil {
		fmt.Fprintf(stderr, "%s: invalid configuration:\n%v\n", args[1], err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[1])
	return 0
}
