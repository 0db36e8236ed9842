"""Cloud Tasks push queues: queue resources, retries and (to come) their store and dispatcher."""
