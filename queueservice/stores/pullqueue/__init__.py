"""Storage and queue configuration of App Engine pull queues (used by taskqueue_v1beta2)."""
