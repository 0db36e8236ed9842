"""Real processes for the tests, the benchmarks and the screenshots: redis-server (or the embedded
wheel's valkey-server), a local Redis Cluster, gunicorn with the production command, slow clients."""
