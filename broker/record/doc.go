// Package record parses, validates and edits Kafka v2 record batches (magic 2) in place.
//
// The broker stores every batch exactly as the client sent it, compressed or not. This package
// is the gate in front of that: ValidateProduced applies the checks Kafka's leader applies to a
// client's produce (ProduceRequest.validateRecords, UnifiedLog.analyzeAndValidateRecords and
// LogValidator.validateBatch), including a walk over every record, decompressing into a
// bounded buffer when a codec is set. The storage layer then stamps the broker-assigned fields
// with SetBaseOffset, SetPartitionLeaderEpoch and SetLogAppendTime, and segment recovery
// re-checks stored batches with Next and VerifyCRC.
//
// # Batch layout
//
// All integers are big-endian; the CRC is CRC-32C (Castagnoli) over bytes 21 to the end.
//
//	offset size field                 CRC-covered
//	     0    8 baseOffset            no  (the broker assigns it)
//	     8    4 batchLength           no  (bytes after this field)
//	    12    4 partitionLeaderEpoch  no  (the broker assigns it)
//	    16    1 magic = 2             no
//	    17    4 crc                   -
//	    21    2 attributes            yes (bits 0-2 codec, 3 LogAppendTime, 4 transactional, 5 control)
//	    23    4 lastOffsetDelta       yes
//	    27    8 baseTimestamp         yes
//	    35    8 maxTimestamp          yes
//	    43    8 producerId            yes
//	    51    2 producerEpoch         yes
//	    53    4 baseSequence          yes
//	    57    4 recordsCount          yes
//	    61    … records, compressed together when a codec is set
//
// Each record is: length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
// key (varint length, -1 for null, then bytes), value (the same), header count varint, and per
// header a key (varint length >= 0, bytes) and a value (varint length, -1 for null, bytes). All
// varints are zigzag-encoded.
//
// # Hot path
//
// Validating an uncompressed batch allocates nothing: the walk reads the client's buffer in
// place. Compressed batches are decompressed into a buffer held by a Scratch, which also keeps
// the gzip, lz4 and zstd decoders so that a pooled Scratch makes steady-state validation of
// compressed batches allocation-light. Every decompression is capped by
// Limits.MaxUncompressedBytes before memory is committed.
//
// # Concurrency
//
// The package has no global mutable state and takes no locks. Functions are safe to call
// concurrently on different batches. A Scratch is owned by one goroutine at a time (hand it
// around through a sync.Pool). The in-place editors write to the batch they are given; the
// caller must own that memory exclusively while they run.
package record
