// Package assign holds the server-side partition assignors of the KIP-848 consumer group
// protocol: "uniform" and "range", modelled on the assignors of Apache Kafka 4.0's
// group-coordinator module (UniformAssignor with its homogeneous and heterogeneous builders,
// and RangeAssignor).
//
// An assignor is a pure function from a Spec (the members with their subscriptions and current
// target assignments, and the metadata of the subscribed topics) to a new target assignment. It
// does no I/O, keeps no state between calls and returns the same answer for the same members in
// any input order: members are always processed sorted by member id, topics by id, partitions
// ascending.
//
// # Rules every assignor keeps
//
//   - Every partition of every topic that some member subscribes to, and that exists in
//     Spec.Topics, goes to exactly one member subscribing to that topic. Topics nobody
//     subscribes to get nothing; subscriptions to unknown topics are ignored.
//   - Every member appears in the result, possibly with an empty assignment.
//   - Results never share memory with the Spec, and partition lists are sorted.
//   - A current assignment is taken as a hint only: partitions of unknown or unsubscribed
//     topics, partitions out of range and duplicates are dropped, and a partition claimed by
//     two members stays with the one whose id sorts first.
//   - Member ids are expected to be unique. If one repeats, the entries are merged (union of
//     subscriptions and of current partitions), which keeps the result independent of order.
//
// # Uniform
//
// When every member subscribes to the same topics (homogeneous), each member gets total/n
// partitions and total%n members one more. The extra slots go first to the members that
// already hold more than the minimum, so the fewest partitions move; a member over its quota
// gives up its highest partitions (by topic id, then number); freed and new partitions then
// fill the members below quota in member id order. Kafka gives the extra slots in member
// iteration order instead, which can move a partition that did not need to move.
//
// When subscriptions differ (heterogeneous), every member first keeps all of its valid current
// partitions. Unowned partitions then go, topics with the fewest subscribers first, each to the
// eligible member with the fewest partitions. Finally partitions move from a member to an
// eligible member holding at least two fewer, newest acquisitions first, until no such move is
// left. Each move shrinks the sum of squared member sizes, so this ends; at the end members with
// identical subscriptions differ by at most one partition. Kafka 4.0's general builder follows
// the same plan with different tie-breaking, so individual placements can differ from Kafka's.
// Racks are ignored, as in Kafka 4.0's uniform assignor.
//
// # Range
//
// Per topic, the subscribing members sorted by member id split the partitions into contiguous
// ranges, the first partitions%members members getting one extra, so co-partitioned topics
// line up for joins. Like Kafka 4.0, it is sticky: a member first keeps its lowest current
// partitions up to its quota (one extra while extra slots remain), and the rest fill the
// members still below quota in member id order, lowest free partitions first. For a fresh
// group this yields exactly the classic ranges.
//
// # Concurrency
//
// There is no shared state: Uniform and Range values are stateless and safe for concurrent use,
// and Assign only reads its Spec.
package assign
