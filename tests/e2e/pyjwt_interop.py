"""PyJWT side of the interoperability tests (run by interop.test.mjs).

  verify JWKS_URL TOKEN               prints the verified claims as JSON
  sign PRIVATE_JWK_JSON KID CLAIMS    prints a token signed with EdDSA
"""

import json
import sys

import jwt
from jwt import PyJWKClient
from jwt.algorithms import OKPAlgorithm


def verify(jwks_url, token):
    signing_key = PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, signing_key.key, algorithms=["EdDSA"], options={"require": ["exp", "iat"]})
    print(json.dumps({"claims": claims, "header": jwt.get_unverified_header(token)}))


def sign(private_jwk, kid, claims):
    key = OKPAlgorithm.from_jwk(private_jwk)
    print(jwt.encode(json.loads(claims), key, algorithm="EdDSA", headers={"kid": kid}))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"verify": verify, "sign": sign}[command](*args)
