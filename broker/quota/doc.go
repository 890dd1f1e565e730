// Package quota implements Kafka's client quotas (KIP-13, KIP-55, KIP-124, KIP-219, KIP-257,
// KIP-546, KIP-599, KIP-612): the quota keys and entities, DescribeClientQuotas matching, and the
// Manager that measures each client's produce and fetch bytes, request-handler time, controller
// mutations and connection creations and says how long to throttle it.
//
// # Semantics
//
// Quotas are set on entities: a user, a client id, a user and client id together (user/client-id
// entities), or an IP address, each possibly the default ("<default>") of its type. For a
// request, every quota key is resolved separately, by Kafka's precedence (first match wins, no
// stacking): user+client-id, user+default client-id, user, default user+client-id, default
// user+default client-id, default user, client-id, default client-id. The entity that matched
// decides who shares a measurement: a quota found on the user alone is shared by all of that
// user's client ids; one found on the default user is measured per user.
//
// Rates are measured over quota.window.num windows of quota.window.size.seconds (11 × 1 s by
// default), never over less than all but one of them, as Kafka's Rate does. When a rate exceeds
// its bound the throttle time is (rate − bound) / bound × window, capped at the whole window, so
// that a client that honours it comes back exactly at its quota.
//
// # Concurrency
//
// A Manager is safe for concurrent use. The quota table is replaced atomically (SetQuotas) and
// read without locks; each measurement (sensor) has its own mutex; the sensor and resolution maps
// share one mutex taken only to find or create an entry. With no quota configured for a kind
// (bandwidth, request time, mutations, connections), recording it costs one atomic load.
package quota
