"""Two services in one process, and a unit test that proves a request through them is one trace."""
