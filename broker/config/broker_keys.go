package config

import "time"

const (
	longMax = "9223372036854775807"
	intMax  = "2147483647"
)

// kafkaProtocolMap is Kafka's default listener.security.protocol.map.
const kafkaProtocolMap = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"

// brokerDefs is the broker key table. Defaults are Kafka 3.9's unless the Doc says otherwise.
func brokerDefs() []*Def {
	var defs []*Def
	for _, part := range [][]*Def{serverDefs(), networkDefs(), logDefs(), cleanerDefs(), securityDefs(), coordinatorDefs(), shareDefs(), bulwarkDefs()} {
		defs = append(defs, part...)
	}
	return defs
}

func serverDefs() []*Def {
	return []*Def{
		def("node.id", TypeInt, "1", "The id of this node. Bulwark default 1 (Kafka requires it to be set).",
			check(atLeast(0)), syn("node.id", 1), setI32(func(c *Config) *int32 { return &c.NodeID })),
		def("broker.id", TypeInt, "", "Alias of node.id (ZooKeeper-era name); node.id wins when both are set and they must agree.",
			noDefault, check(atLeast(0)), syn("node.id", 0), setI32(func(c *Config) *int32 { return &c.NodeID })),
		def("process.roles", TypeList, "broker,controller", "The node's KRaft roles. A single Bulwark node is always broker and controller.",
			noEffect, check(listOf(false, "broker", "controller"))),
		def("controller.quorum.voters", TypeList, "", "KRaft quorum voters (id@host:port).", notYet("Bulwark runs as a single node; a controller quorum is not implemented yet")),
		def("controller.quorum.bootstrap.servers", TypeList, "", "KRaft quorum bootstrap servers.", notYet("Bulwark runs as a single node; a controller quorum is not implemented yet")),
		def("controller.listener.names", TypeList, "", "Listeners used by the KRaft controller. Bulwark binds them but never advertises them to clients.",
			noDefault, setList(func(c *Config) *[]string { return &c.ControllerListenerNames })),
		def("log.dirs", TypeString, "", "Comma-separated directories holding partition data; the first also holds Bulwark's metadata log. Overrides log.dir.",
			noDefault, check(nonEmptyList), syn("log.dirs", 1), setList(func(c *Config) *[]string { return &c.LogDirs })),
		def("log.dir", TypeString, "./data", "The data directory when log.dirs is unset. Bulwark default ./data (Kafka: /tmp/kafka-logs).",
			check(nonEmptyList), syn("log.dirs", 0), setList(func(c *Config) *[]string { return &c.LogDirs })),
		def("num.partitions", TypeInt, "1", "Default partition count of new topics.",
			check(atLeast(1)), dyn, setI32(func(c *Config) *int32 { return &c.NumPartitions })),
		def("default.replication.factor", TypeInt, "1", "Default replication factor of new topics; a single node can only host 1.",
			check(between(1, 32767)), setI16(func(c *Config) *int16 { return &c.DefaultReplicationFactor })),
		def("auto.create.topics.enable", TypeBoolean, "true", "Create a topic when a client asks for its metadata or produces to it.",
			setBool(func(c *Config) *bool { return &c.AutoCreateTopics })),
		def("delete.topic.enable", TypeBoolean, "true", "Allow DeleteTopics.",
			setBool(func(c *Config) *bool { return &c.DeleteTopicEnable })),
		def("auto.leader.rebalance.enable", TypeBoolean, "true", "Leader rebalancing (single node: nothing to rebalance).", noEffect),
		def("background.threads", TypeInt, "10", "Background thread count.", noEffect, dyn, check(atLeast(1))),
		def("num.io.threads", TypeInt, "8", "Request handler thread count; Bulwark serves each connection in its own goroutine.", noEffect, dyn, check(atLeast(1))),
		def("num.network.threads", TypeInt, "3", "Network thread count.", noEffect, dyn, check(atLeast(1))),
		def("num.replica.fetchers", TypeInt, "1", "Replica fetcher thread count.", noEffect, dyn, check(atLeast(1))),
		def("num.recovery.threads.per.data.dir", TypeInt, "2", "Log recovery thread count per data directory.", noEffect, dyn, check(atLeast(1))),
		def("queued.max.requests", TypeInt, "500", "Request queue length.", noEffect, check(atLeast(1))),
		def("replica.fetch.max.bytes", TypeInt, "1048576", "Replica fetch size.", noEffect, check(atLeast(0))),
		def("replica.lag.time.max.ms", TypeLong, "30000", "Time before a lagging follower leaves the ISR.", noEffect, check(atLeast(0))),
		def("replica.socket.timeout.ms", TypeInt, "30000", "Replica fetch socket timeout.", noEffect),
		def("broker.rack", TypeString, "", "The node's rack (availability zone).", noDefault, noEffect),
		def("request.timeout.ms", TypeInt, "30000", "Timeout of inter-broker requests.", noEffect, check(atLeast(0))),
	}
}

func networkDefs() []*Def {
	return []*Def{
		def("listeners", TypeList, "PLAINTEXT://127.0.0.1:9092", "Addresses to listen on, NAME://host:port (host empty: all interfaces; IPv6 in brackets). Bulwark default PLAINTEXT://127.0.0.1:9092 (Kafka: PLAINTEXT://:9092).",
			check(validListeners(false)), setFunc(func(c *Config, v string) { c.Listeners, _ = ParseListeners(v) })),
		def("advertised.listeners", TypeList, "", "Addresses given to clients in Metadata, by listener name; unset means listeners.",
			noDefault, check(validListeners(true)), setFunc(func(c *Config, v string) { c.AdvertisedListeners, _ = ParseListeners(v) })),
		def("listener.security.protocol.map", TypeString, kafkaProtocolMap, "Security protocol of each listener name, NAME:PROTOCOL pairs.",
			check(validProtocolMap), setFunc(func(c *Config, v string) { c.SecurityProtocolMap, _ = parseProtocolMap(v) })),
		def("inter.broker.listener.name", TypeString, "", "Listener used between brokers.",
			noDefault, setStr(func(c *Config) *string { return &c.InterBrokerListenerName })),
		def("security.inter.broker.protocol", TypeString, "PLAINTEXT", "Security protocol between brokers.", noEffect, check(oneOf(false, securityProtocols...))),
		def("socket.request.max.bytes", TypeInt, "104857600", "Largest request frame accepted from an authenticated client; a larger one closes the connection.",
			check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.SocketRequestMaxBytes })),
		def("sasl.server.max.receive.size", TypeInt, "524288", "Largest frame accepted before and during authentication.",
			check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.PreAuthMaxFrameBytes })),
		def("socket.send.buffer.bytes", TypeInt, "102400", "SO_SNDBUF (-1: OS default).", noEffect),
		def("socket.receive.buffer.bytes", TypeInt, "102400", "SO_RCVBUF (-1: OS default).", noEffect),
		def("socket.listen.backlog.size", TypeInt, "50", "Listen backlog.", noEffect, check(atLeast(1))),
		def("connections.max.idle.ms", TypeLong, "600000", "Close connections idle this long.",
			check(atLeast(1)), setMs(func(c *Config) *time.Duration { return &c.ConnectionsMaxIdle })),
		def("connections.max.reauth.ms", TypeLong, "0", "Longest a SASL session lasts before the client must re-authenticate (KIP-368); 0 means never.",
			check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.ConnectionsMaxReauth })),
		def("max.connections", TypeInt, intMax, "Most concurrent connections on the broker.",
			dyn, check(atLeast(0)), setI32(func(c *Config) *int32 { return &c.MaxConnections })),
		def("max.connections.per.ip", TypeInt, intMax, "Most concurrent connections from one IP address.",
			dyn, check(atLeast(0)), setI32(func(c *Config) *int32 { return &c.MaxConnectionsPerIP })),
		def("max.connections.per.ip.overrides", TypeString, "", "Per-host limits overriding max.connections.per.ip, host:count pairs.",
			dyn, check(validIPOverrides), setFunc(func(c *Config, v string) { c.MaxConnectionsPerIPOverrides, _ = parseIPOverrides(v) })),
		def("max.connection.creation.rate", TypeInt, intMax, "Most new connections per second on the broker.",
			dyn, check(atLeast(0)), setI32(func(c *Config) *int32 { return &c.MaxConnectionCreationRate })),
		def("quota.window.num", TypeInt, "11", "Number of samples a client quota's rate is measured over.",
			check(atLeast(2)), setI32(func(c *Config) *int32 { return &c.QuotaWindowNum })),
		def("quota.window.size.seconds", TypeInt, "1", "Length of each client-quota sample window.",
			check(atLeast(1)), setI32(func(c *Config) *int32 { return &c.QuotaWindowSizeSeconds })),
		def("connection.failed.authentication.delay.ms", TypeInt, "100", "Delay before closing a connection whose authentication failed.",
			check(atLeast(0)), setMs(func(c *Config) *time.Duration { return &c.FailedAuthenticationDelay })),
		def("fetch.max.bytes", TypeInt, "57671680", "Cap on a Fetch response's size.",
			check(atLeast(1024)), setI32(func(c *Config) *int32 { return &c.FetchMaxBytes })),
		def("max.incremental.fetch.session.cache.slots", TypeInt, "1000", "Most incremental fetch sessions cached (0 disables sessions).",
			check(atLeast(0)), setInt(func(c *Config) *int { return &c.FetchSessionCacheSlots })),
	}
}
