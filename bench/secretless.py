#!/usr/bin/env python3
"""Pre-signs what bench/secretless.sh replays: one token request a line, each usable once.

  secretless.py keygen DIR                  writes DIR/key.pem (P-256) and DIR/jwks.json (public)
  secretless.py assertions DIR ISSUER CLIENT_ID N > FILE
  secretless.py dpop DIR ISSUER N > FILE    DPoP proofs (htm POST, htu the token endpoint)

Each output line is `body<TAB>header-name<TAB>header-value` (header empty for assertions).
Signing happens before the run, so the load generator only sends bytes: the figures are the
server's. Needs `cryptography` (Debian: python3-cryptography).
"""
import base64, json, sys, time, uuid
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key) -> dict:
    n = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}


def sign(key, header: dict, claims: dict) -> str:
    signing_input = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(
        json.dumps(claims, separators=(",", ":")).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def load(d: str):
    with open(f"{d}/key.pem", "rb") as f:
        return serialization.load_pem_private_key(f.read(), None)


def main() -> None:
    cmd, d = sys.argv[1], sys.argv[2]
    if cmd == "keygen":
        key = ec.generate_private_key(ec.SECP256R1())
        with open(f"{d}/key.pem", "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(f"{d}/jwks.json", "w") as f:
            json.dump({"keys": [dict(public_jwk(key), kid="bench")]}, f)
        return
    key, issuer, out = load(d), sys.argv[3], sys.stdout
    now = int(time.time())
    if cmd == "assertions":
        client_id, n = sys.argv[4], int(sys.argv[5])
        for _ in range(n):
            jwt = sign(key, {"alg": "ES256", "typ": "JWT", "kid": "bench"},
                       {"iss": client_id, "sub": client_id, "aud": issuer, "iat": now, "exp": now + 290,
                        "jti": uuid.uuid4().hex})
            out.write("grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth"
                      f"%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={jwt}\t\t\n")
    elif cmd == "dpop":
        n = int(sys.argv[4])
        header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}
        for _ in range(n):
            proof = sign(key, header, {"htm": "POST", "htu": f"{issuer}/oauth2/token", "iat": now,
                                       "jti": uuid.uuid4().hex})
            out.write(f"grant_type=client_credentials\tDPoP\t{proof}\n")
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
