"""Push dispatch for Cloud Tasks queues: what a task's HTTP request is, and the worker that sends it."""
