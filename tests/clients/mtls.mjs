// openid-client's TlsClientAuth (RFC 8705 §2.1) against Tessera over HTTPS: discovery, then a
// client-credentials grant, both through an undici Agent that presents the client certificate.
// Usage: node mtls.mjs ISSUER CLIENT_ID CERT_PEM KEY_PEM CA_PEM SCOPE
// Prints one JSON line: {"access_token": …, "token_type": …}.
import { readFileSync } from 'node:fs'
import * as client from 'openid-client'
import * as undici from 'undici'

const [issuer, clientId, certFile, keyFile, caFile, scope] = process.argv.slice(2)
const agent = new undici.Agent({
  connect: {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ca: readFileSync(caFile),
  },
})
const viaAgent = (url, options) => undici.fetch(url, { ...options, dispatcher: agent })

const config = await client.discovery(new URL(issuer), clientId, {}, client.TlsClientAuth(), {
  [client.customFetch]: viaAgent,
})
config[client.customFetch] = viaAgent
const tokens = await client.clientCredentialsGrant(config, { scope })
console.log(JSON.stringify({ access_token: tokens.access_token, token_type: tokens.token_type }))
await agent.close()
