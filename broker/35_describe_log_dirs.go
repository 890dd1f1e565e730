package broker

// DescribeLogDirs (key 35), v1–v4.
//
// One result per configured log dir (log.dirs), named by its absolute path, listing the
// partitions stored there with their size on disk (null topics: every partition; otherwise only
// the requested ones; topics with nothing to list are left out). offset_lag is always 0 and
// is_future false: there are no replica moves between dirs. v4 adds the file system's total and
// usable bytes (statfs; -1 where the platform cannot tell). A dir whose file system cannot be
// read is KAFKA_STORAGE_ERROR with no topics, as Kafka reports an offline dir.

import (
	"github.com/bulwark-kafka/bulwark/auth/authz"

	"path/filepath"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (s *Server) handleDescribeLogDirs(c *conn, h requestHeader, kreq kmsg.Request) reply {
	req := kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	if !s.allowed(c, h, authz.OpDescribe, authz.Cluster) {
		// Kafka answers no directories, with the error in the v3+ top-level field.
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return respond(resp)
	}
	type tp struct {
		topic string
		part  int32
	}
	var wanted map[tp]bool // nil: every partition
	if req.Topics != nil {
		wanted = make(map[tp]bool)
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				wanted[tp{rt.Topic, p}] = true
			}
		}
	}
	// Group the partitions to list by the absolute path of the log dir holding them.
	byDir := make(map[string]map[string][]*partition)
	for _, t := range s.cluster.allTopics() {
		for _, p := range t.partitions {
			if wanted != nil && !wanted[tp{t.name, p.index}] {
				continue
			}
			dir := absPath(filepath.Dir(p.dir))
			if byDir[dir] == nil {
				byDir[dir] = make(map[string][]*partition)
			}
			byDir[dir][t.name] = append(byDir[dir][t.name], p)
		}
	}
	for _, d := range s.cfg.LogDirs {
		resp.Dirs = append(resp.Dirs, describeLogDir(absPath(d), byDir[absPath(d)]))
	}
	return respond(resp)
}

func describeLogDir(dir string, topics map[string][]*partition) kmsg.DescribeLogDirsResponseDir {
	out := kmsg.NewDescribeLogDirsResponseDir()
	out.Dir = dir
	total, usable, err := diskSpace(dir)
	if err != nil {
		out.ErrorCode = kerr.KafkaStorageError.Code
		return out
	}
	out.TotalBytes, out.UsableBytes = total, usable
	names := make([]string, 0, len(topics))
	for name := range topics {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ot := kmsg.NewDescribeLogDirsResponseDirTopic()
		ot.Topic = name
		parts := topics[name]
		sort.Slice(parts, func(i, j int) bool { return parts[i].index < parts[j].index })
		for _, p := range parts {
			op := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			op.Partition = p.index
			op.Size = p.log.Size()
			ot.Partitions = append(ot.Partitions, op)
		}
		out.Topics = append(out.Topics, ot)
	}
	return out
}

// absPath is path made absolute, or path itself if the working directory is unknown.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}
