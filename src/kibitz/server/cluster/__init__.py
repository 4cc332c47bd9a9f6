"""What several nodes share beyond the database: the device directory, node leases and the
list of live nodes. Each has an in-memory form for one node and a Redis form for many."""
