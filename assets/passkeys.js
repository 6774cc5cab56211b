// rxapp's passkeys in the browser: navigator.credentials.create/get, with base64url in and
// out. The only JavaScript the app writes. The server sends options as JSON (py_webauthn's
// options_to_json) and gets the credential back as JSON; every check happens on the server.
// A failure comes back as {"error": "<DOMException name>"}: never a rejected promise, so
// the server always hears how the ceremony ended.
(function () {
  "use strict";

  function toBytes(text) {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "===".slice((base64.length + 3) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function toText(buffer) {
    if (!buffer) return null;
    let binary = "";
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: toBytes(item.id) }));
  }

  function failure(error) {
    const name = error && typeof error.name === "string" ? error.name : "Error";
    return JSON.stringify({ error: name });
  }

  function supported() {
    return !!(window.PublicKeyCredential && navigator.credentials);
  }

  // The credential as plain data, with the response fields named (each an ArrayBuffer).
  function answer(credential, fields) {
    const response = {};
    for (const field of fields) response[field] = toText(credential.response[field]);
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
    };
  }

  async function ceremony(optionsJson, run) {
    if (!supported()) return JSON.stringify({ error: "unsupported" });
    try {
      return await run(JSON.parse(optionsJson));
    } catch (error) {
      return failure(error);
    }
  }

  function create(optionsJson) {
    return ceremony(optionsJson, async (options) => {
      options.challenge = toBytes(options.challenge);
      options.user = Object.assign({}, options.user, { id: toBytes(options.user.id) });
      options.excludeCredentials = withIds(options.excludeCredentials);
      const credential = await navigator.credentials.create({ publicKey: options });
      const data = answer(credential, ["clientDataJSON", "attestationObject"]);
      const response = credential.response;
      data.response.transports = response.getTransports ? response.getTransports() : [];
      return JSON.stringify(data);
    });
  }

  function get(optionsJson) {
    return ceremony(optionsJson, async (options) => {
      options.challenge = toBytes(options.challenge);
      options.allowCredentials = withIds(options.allowCredentials);
      const credential = await navigator.credentials.get({ publicKey: options });
      const fields = ["clientDataJSON", "authenticatorData", "signature", "userHandle"];
      return JSON.stringify(answer(credential, fields));
    });
  }

  window.rxappPasskeys = { create: create, get: get, supported: supported };
})();
