// openid-client 6 obtains a client-credentials token with private_key_jwt.
// node private_key_jwt.mjs ISSUER CLIENT_ID PRIVATE_KEY_PEM_FILE KID SCOPE
// Prints {"access_token", "token_type", "aud"} (aud: what the library put in its assertion).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as client from 'openid-client';

const [issuer, clientId, keyFile, kid, scope] = process.argv.slice(2);
const pkcs8 = createPrivateKey(readFileSync(keyFile, 'utf8')).export({ format: 'der', type: 'pkcs8' });
const key = await crypto.subtle.importKey(
  'pkcs8',
  pkcs8,
  { name: 'ECDSA', namedCurve: 'P-256' },
  false,
  ['sign'],
);
let aud;
const auth = client.PrivateKeyJwt(
  { key, kid },
  {
    // Only to report the library's default audience; nothing is changed.
    [client.modifyAssertion]: (_header, payload) => {
      aud = payload.aud;
    },
  },
);
const config = await client.discovery(new URL(issuer), clientId, undefined, auth, {
  execute: [client.allowInsecureRequests],
});
const tokens = await client.clientCredentialsGrant(config, { scope });
console.log(
  JSON.stringify({ access_token: tokens.access_token, token_type: tokens.token_type, aud }),
);
