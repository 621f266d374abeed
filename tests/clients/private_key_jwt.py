"""Authlib obtains a client-credentials token with private_key_jwt.

python private_key_jwt.py ISSUER CLIENT_ID PRIVATE_KEY_PEM_FILE KID SCOPE MODE

MODE "default": Authlib's defaults (aud = the token endpoint URL, exp = iat + 3600 s).
MODE "issuer": the issuer as aud (Authlib's token_endpoint option is the audience) and a
60 s lifetime, as SPEC §9 asks.

Prints one JSON line: the token response (or the error) and the aud Authlib signed.
"""

import base64
import json
import sys
import time
from urllib.parse import parse_qs

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

issuer, client_id, key_file, kid, scope, mode = sys.argv[1:7]
meta = requests.get(issuer + "/.well-known/oauth-authorization-server", timeout=10).json()
token_endpoint = meta["token_endpoint"]
with open(key_file) as f:
    private_key = f.read()

if mode == "issuer":
    # One token request per process: Authlib keeps the claims dict (and the jti it adds to
    # it) between calls, so a long-lived session would build this per request.
    now = int(time.time())
    auth = PrivateKeyJWT(
        token_endpoint=issuer, claims={"exp": now + 60}, headers={"kid": kid}, alg="ES256"
    )
else:
    auth = PrivateKeyJWT(headers={"kid": kid}, alg="ES256")

session = OAuth2Session(
    client_id, private_key, token_endpoint_auth_method="private_key_jwt", scope=scope
)
session.register_client_auth_method(auth)

sent = []
session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.body))


def signed_aud():
    body = sent[-1] if sent else ""
    body = body.decode() if isinstance(body, bytes) else body
    assertion = parse_qs(body)["client_assertion"][0]
    payload = assertion.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["aud"]


try:
    token = session.fetch_token(token_endpoint, grant_type="client_credentials")
    out = {"access_token": token["access_token"], "token_type": token["token_type"]}
except OAuthError as e:
    out = {"error": e.error}
out["aud"] = signed_aud()
print(json.dumps(out))
