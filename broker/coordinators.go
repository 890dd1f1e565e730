package broker

// coordinators is the group coordinator (and, later, the transaction coordinator) living in this
// broker. The group work fills it in; New opens it after the cluster, Shutdown closes it before.
type coordinators struct{}

// openCoordinators rebuilds coordinator state from disk. Called by New once the cluster is open.
func (s *Server) openCoordinators() error { return nil }

// startCoordinators starts background work (session timeouts, offset expiry). Called by Start.
func (s *Server) startCoordinators() {}

// closeCoordinators stops background work and closes coordinator storage. Called by Shutdown
// after every connection has finished and before the cluster closes.
func (s *Server) closeCoordinators() error { return nil }

// coordinatorEntries are the handler-table rows for the coordinator APIs.
func (s *Server) coordinatorEntries() []*apiEntry { return nil }
