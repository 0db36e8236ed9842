"""The floor: a minimal Flask app that parses a JSON body, makes one Redis call and answers JSON.

Served by the same gunicorn.conf.py on the same Redis as the service, no design on this stack can
beat it per request; the benchmarks quote every operation as a ratio of it.
"""

import json
import os

import redis
from flask import Flask, Response, request

app = Flask(__name__)
_redis = redis.Redis.from_url(os.environ["REDIS_URL"])


@app.route("/healthz")
def healthz():
    return Response("{}", content_type="application/json")


@app.route("/floor", methods=["POST"])
def floor():
    body = json.loads(request.get_data())
    count = _redis.incr("bench:floor")
    return Response(json.dumps({"count": count, "echo": body.get("x")}), content_type="application/json")
