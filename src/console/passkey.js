// Passkeys for the Tessera console: progressive enhancement. Without this script (or without
// WebAuthn in the browser) the buttons stay hidden and the forms work as they are.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(b64url) {
    const b64 = b64url.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }
  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function csrf() {
    const input = document.querySelector('input[name="csrf"]');
    return input ? input.value : "";
  }
  async function post(path, body) {
    const res = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || "The passkey step failed.");
    return data;
  }
  function show(status, message) {
    if (status) status.textContent = message;
  }

  const signIn = document.getElementById("passkey-sign-in");
  if (signIn) {
    signIn.hidden = false;
    const status = document.getElementById("passkey-status");
    signIn.addEventListener("click", async () => {
      try {
        const options = (await post("/console/sign-in/passkey/options")).publicKey;
        options.challenge = toBytes(options.challenge);
        for (const c of options.allowCredentials || []) c.id = toBytes(c.id);
        const cred = await navigator.credentials.get({ publicKey: options });
        const done = await post("/console/sign-in/passkey", {
          id: cred.id,
          rawId: toB64url(cred.rawId),
          type: cred.type,
          extensions: {},
          response: {
            authenticatorData: toB64url(cred.response.authenticatorData),
            clientDataJSON: toB64url(cred.response.clientDataJSON),
            signature: toB64url(cred.response.signature),
            userHandle: cred.response.userHandle ? toB64url(cred.response.userHandle) : null,
          },
        });
        window.location.assign(done.location);
      } catch (e) {
        show(status, e.message);
      }
    });
  }

  const add = document.getElementById("passkey-add");
  if (add) {
    add.hidden = false;
    const status = document.getElementById("passkey-status");
    add.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const options = (await post("/console/passkeys/options")).publicKey;
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        for (const c of options.excludeCredentials || []) c.id = toBytes(c.id);
        const cred = await navigator.credentials.create({ publicKey: options });
        await post("/console/passkeys", {
          name: document.getElementById("passkey-name").value,
          credential: {
            id: cred.id,
            rawId: toB64url(cred.rawId),
            type: cred.type,
            extensions: {},
            response: {
              attestationObject: toB64url(cred.response.attestationObject),
              clientDataJSON: toB64url(cred.response.clientDataJSON),
              transports: cred.response.getTransports ? cred.response.getTransports() : [],
            },
          },
        });
        show(status, "Passkey added.");
      } catch (e) {
        show(status, e.message);
      }
    });
  }
})();
