"""OIDC tokens for push tasks: signed (RS256) with a local key that every process on one Redis
shares, and published as Google publishes its own (an OpenID discovery document, JWKS and a map of
PEM certificates), so handlers can verify them, e.g. with google-auth:
`id_token.verify_token(token, request, audience=url, certs_url="http://<server>/oauth2/v1/certs")`.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

#: Redis key of the shared signing key and its certificate (made once, by whichever process is first).
KEY = "ct:oidc:key"
TOKEN_SECS = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _new_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "queueservice local OIDC")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650)).sign(key, hashes.SHA256()))
    return json.dumps({
        "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode(),
        "cert": cert.public_bytes(serialization.Encoding.PEM).decode()})


class Signer:
    def __init__(self, redis, issuer: str):
        self.issuer = issuer.rstrip("/")
        redis.set(KEY, _new_key(), nx=True)
        stored = json.loads(redis.get(KEY))
        self._key = serialization.load_pem_private_key(stored["key"].encode(), password=None)
        self.cert_pem = stored["cert"]
        numbers = self._key.public_key().public_numbers()
        self._n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        self._e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        self.kid = hashlib.sha256(self._n).hexdigest()[:16]

    def token(self, audience: str, email: str, now: float | None = None) -> str:
        """An ID token for `email` (the task's service account) with audience `audience`."""
        issued = int(now if now is not None else time.time())
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        claims = {"iss": self.issuer, "aud": audience, "sub": email, "email": email, "email_verified": True,
                  "iat": issued, "nbf": issued, "exp": issued + TOKEN_SECS}
        signing_input = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + _b64(signature)

    def jwks(self) -> dict:
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                          "n": _b64(self._n), "e": _b64(self._e)}]}

    def pem_certs(self) -> dict:
        """Google's v1 form: {kid: PEM certificate}, what google-auth's verify_token reads."""
        return {self.kid: self.cert_pem}

    def discovery(self) -> dict:
        return {"issuer": self.issuer, "jwks_uri": f"{self.issuer}/oauth2/v3/certs",
                "id_token_signing_alg_values_supported": ["RS256"], "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"], "claims_supported": ["aud", "email", "email_verified",
                                                                           "exp", "iat", "iss", "sub"]}
