// openid-client obtains DPoP-bound tokens by the client-credentials grant, twice with one key,
// and prints the last token, the RFC 7638 thumbprint of its DPoP key (computed here from the
// exported public key), and how many token requests it made: with server nonces the first
// grant is refused with use_dpop_nonce and retried by openid-client itself, and the second
// reuses the nonce of the first success.
//
// node dpop.mjs ISSUER CLIENT_ID CLIENT_SECRET SCOPE
import { createHash } from 'node:crypto';
import * as client from 'openid-client';

const [issuer, clientId, clientSecret, scope] = process.argv.slice(2);

const config = await client.discovery(
  new URL(issuer),
  clientId,
  undefined,
  client.ClientSecretBasic(clientSecret),
  { execute: [client.allowInsecureRequests] },
);

let tokenRequests = 0;
const statuses = [];
config[client.customFetch] = async (url, options) => {
  const response = await fetch(url, options);
  if (new URL(url).pathname.endsWith('/oauth2/token')) {
    tokenRequests += 1;
    statuses.push(response.status);
  }
  return response;
};

const keyPair = await client.randomDPoPKeyPair('ES256');
const dpop = client.getDPoPHandle(config, keyPair);

let tokens;
for (let i = 0; i < 2; i += 1) {
  tokens = await client.clientCredentialsGrant(config, { scope }, { DPoP: dpop });
}

const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey);
const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
const jkt = createHash('sha256').update(canonical).digest('base64url');

console.log(JSON.stringify({
  access_token: tokens.access_token,
  token_type: tokens.token_type,
  jkt,
  token_requests: tokenRequests,
  statuses,
}));
