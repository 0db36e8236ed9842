"""Redis under pressure and over every URL scheme: out of memory, an evicting policy, TLS, a Unix socket.

Each runs gunicorn against a real redis-server configured as the case needs.
"""

from __future__ import annotations

import datetime
import os
import shutil
import subprocess
import tempfile

import pytest
import redis
import requests

from harness.servers import GunicornServer, RedisServer, free_port, redis_server_binary, wait_until
from tests.test_operator_errors import GUNICORN, refused

BASE = "/taskqueue/v1beta2/projects/app/taskqueues/mem"


@pytest.fixture(scope="module")
def pressed():
    """A Redis of this module's own (its memory settings are changed) and one gunicorn on it."""
    server = RedisServer().start()
    web = GunicornServer({"REDIS_URL": server.url, "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING"}).start()
    yield server, web, redis.Redis(port=server.port)
    web.stop()
    server.stop()


def test_out_of_memory_is_503_naming_the_cause_and_healthz_says_so(pressed):
    _, web, admin = pressed
    url = web.url + BASE
    held = requests.post(url + "/tasks", json={"payloadBase64": "aGk=", "id": "held"}, timeout=10).json()
    requests.post(url + "/tasks", json={"payloadBase64": "aGk=", "id": "spare"}, timeout=10).raise_for_status()
    leased = requests.post(url + "/tasks/lease?numTasks=1&leaseSecs=60", timeout=10).json()["items"][0]
    assert leased["id"] == held["id"]
    admin.config_set("maxmemory", 1)  # every write is now over maxmemory (noeviction, the default)
    try:
        calls = {
            "insert": lambda: requests.post(url + "/tasks", json={"payloadBase64": "aGk="}, timeout=10),
            "lease": lambda: requests.post(url + "/tasks/lease?numTasks=1&leaseSecs=60", timeout=10),
            "renew": lambda: requests.post(url + "/tasks/held?newLeaseSeconds=120", timeout=10,
                                           json={"leaseTimestamp": leased["leaseTimestamp"]}),
            "release": lambda: requests.post(url + "/tasks/held?newLeaseSeconds=0", json={}, timeout=10),
        }
        for name, call in calls.items():
            r = call()
            assert r.status_code == 503, (name, r.text)
            error = r.json()["error"]
            assert error["errors"][0]["reason"] == "backendError"
            assert "out of memory (Redis maxmemory reached)" in error["message"], name
        health = requests.get(web.url + "/healthz", timeout=10)
        assert health.status_code == 503
        assert "out of memory" in health.json()["problem"]
        # The renewal failed, so the lease kept its old expiry.
        got = requests.get(url + "/tasks/held", timeout=10).json()
        assert got["leaseTimestamp"] == leased["leaseTimestamp"]
    finally:
        admin.config_set("maxmemory", 0)
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 200
    assert requests.post(url + "/tasks", json={"payloadBase64": "aGk="}, timeout=10).status_code == 200


@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_evicting_policy_is_refused_at_start_and_in_healthz(pressed, policy):
    server, web, admin = pressed
    admin.config_set("maxmemory-policy", policy)
    try:
        line = refused(GUNICORN, {"REDIS_URL": server.url})
        assert f"maxmemory-policy is {policy}" in line
        assert "CONFIG SET maxmemory-policy noeviction" in line and "--maxmemory-policy noeviction" in line
        health = requests.get(web.url + "/healthz", timeout=10)
        assert health.status_code == 503 and policy in health.json()["problem"]
    finally:
        admin.config_set("maxmemory-policy", "noeviction")
    assert requests.get(web.url + "/healthz", timeout=10).status_code == 200


def test_redis_without_info_starts_with_a_warning():
    server = RedisServer(extra=("--rename-command", "INFO", "", "--rename-command", "CONFIG", "")).start()
    web = GunicornServer({"REDIS_URL": server.url, "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING"})
    try:
        web.start()
        assert requests.post(web.url + BASE + "/tasks", json={"payloadBase64": "aGk="}, timeout=10).status_code == 200
        assert "cannot check that maxmemory-policy is noeviction" in web.output()
    finally:
        web.stop()
        server.stop()


def _self_signed(folder: str) -> tuple:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_and_unix_redis():
    """One redis-server that speaks only TLS on a port and plain RESP on a Unix socket (no TCP port).

    Without a redis-server on PATH, the embedded wheel's valkey-server serves the socket alone (it
    has no TLS), and the port is None.
    """
    folder = tempfile.mkdtemp(prefix="qs-tls-")
    cert, key = _self_signed(folder)
    port, sock = free_port(), os.path.join(folder, "redis.sock")
    tls = ["--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", cert, "--tls-key-file", key,
           "--tls-ca-cert-file", cert, "--tls-auth-clients", "no"]
    if not shutil.which("redis-server"):
        port, tls = None, []
    proc = subprocess.Popen([redis_server_binary(), "--port", "0", *tls, "--unixsocket", sock,
                             "--save", "", "--dir", folder, "--requirepass", "s3cret"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(lambda: redis.Redis(unix_socket_path=sock, password="s3cret").ping(), what="redis-server")
    yield port, sock, cert
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


def _round_trip(url: str):
    web = GunicornServer({"REDIS_URL": url, "WEB_CONCURRENCY": "1", "LOG_LEVEL": "WARNING"}).start()
    try:
        r = requests.post(web.url + BASE + "/tasks", json={"payloadBase64": "aGk=", "id": "t"}, timeout=10)
        assert r.status_code == 200, r.text
        assert requests.get(web.url + BASE + "/tasks/t", timeout=10).json()["payloadBase64"] == "aGk="
    finally:
        web.stop()


def _tls_port(tls_and_unix_redis):
    if tls_and_unix_redis[0] is None:
        pytest.skip("TLS needs a redis-server built with it (apt-get install -y redis-server); "
                    "the embedded wheel's valkey-server has none")
    return tls_and_unix_redis[0]


def test_rediss_url_speaks_tls(tls_and_unix_redis):
    port, (_, _, cert) = _tls_port(tls_and_unix_redis), tls_and_unix_redis
    _round_trip(f"rediss://:s3cret@127.0.0.1:{port}/0?ssl_cert_reqs=required&ssl_ca_certs={cert}")


def test_rediss_refuses_an_untrusted_certificate(tls_and_unix_redis):
    """Never in clear, never unverified: an untrusted certificate stops start-up with the fix."""
    port = _tls_port(tls_and_unix_redis)
    line = refused(GUNICORN, {"REDIS_URL": f"rediss://:s3cret@127.0.0.1:{port}/0?ssl_cert_reqs=required"})
    assert "TLS connection to Redis failed" in line and "CERTIFICATE_VERIFY_FAILED" in line
    assert "s3cret" not in line


def test_unix_socket_url(tls_and_unix_redis):
    _, sock, _ = tls_and_unix_redis
    _round_trip(f"unix://:s3cret@{sock}?db=2")


def test_evicting_policy_on_any_cluster_node_is_found(redis_cluster):
    from queueservice.redis_helpers import connection as redis_conn
    from queueservice.config import Settings
    from queueservice.errors import StartupError

    client = redis_conn.connect(Settings(redis_url=redis_cluster.url, redis_cluster=True))
    node = redis.Redis(port=redis_cluster.nodes[2].port)
    node.config_set("maxmemory-policy", "volatile-lru")
    try:
        assert "volatile-lru" in redis_conn.memory_problem(client)
        with pytest.raises(StartupError, match="volatile-lru"):
            redis_conn.check_policy_at_start(client)
    finally:
        node.config_set("maxmemory-policy", "noeviction")
    assert redis_conn.memory_problem(client) is None
