"""Runtime: actors, supervisor, circuit breakers, scheduler, HTTP API and daemon wiring."""
