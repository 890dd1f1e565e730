// Command bulwark is the Bulwark Kafka broker and its tools.
//
//	bulwark serve [--config server.properties]   run the broker (embedded defaults without a file)
//	bulwark config check FILE                     validate a configuration file without starting
//	bulwark bench [flags]                         produce/consume load generator against any broker
//	bulwark version                               print the version
//
// Every subcommand lives in its own file; main only dispatches.
package main
