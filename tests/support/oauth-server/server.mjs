// A real OAuth 2.0 / OpenID Connect server (oidc-provider) on loopback for campuscore's
// end-to-end tests. Configured through OAUTH_SERVER_CONFIG (JSON, see README.md); prints
// `listening http://127.0.0.1:<port>` as its first stdout line once ready; exits when stdin
// closes or on SIGTERM/SIGINT. Test-control endpoints live under /__*.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OAUTH_SERVER_CONFIG || '{}');
const accessTokenTtl = Number(config.access_token_ttl ?? 3600);
const refreshTokenTtl = Number(config.refresh_token_ttl ?? 86400);

// The provider's own paths (these are oidc-provider's defaults, spelled out for clarity).
const ROUTES = {
  authorization: '/auth',
  token: '/token',
  revocation: '/token/revocation',
  userinfo: '/me',
  end_session: '/session/end',
  jwks: '/jwks',
};

// ---- storage: an in-memory adapter (documented adapter interface) that can be wiped -------
const stores = new Map(); // model name -> Map(id -> { payload, expiresAt })
class MemoryAdapter {
  constructor(name) {
    this.name = name;
    if (!stores.has(name)) stores.set(name, new Map());
    this.store = stores.get(name);
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    this.store.set(id, { payload, expiresAt });
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [id, { payload }] of this.store) {
      if (payload.uid === uid) return this.find(id);
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, { payload }] of this.store) {
      if (payload.userCode === userCode) return this.find(id);
    }
    return undefined;
  }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [id, { payload }] of this.store) {
      if (payload.grantId === grantId) this.store.delete(id);
    }
  }
}

// ---- test-control state -------------------------------------------------------------------
const stats = {
  token_requests: 0,
  grant_types: {},
  revocations: 0,
  userinfo_requests: 0,
  token_errors: {},
  injected_failures: 0,
};
const bump = (obj, key) => { obj[key] = (obj[key] ?? 0) + 1; };
let failures = { status: 0, count: 0, retry_after: undefined };
let tokenDelayMs = 0;

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function revokeAll() {
  let grants = 0;
  for (const model of ['Grant', 'AccessToken', 'RefreshToken', 'AuthorizationCode']) {
    const store = stores.get(model);
    if (!store) continue;
    if (model === 'Grant') grants = store.size;
    store.clear();
  }
  return grants;
}

// ---- accounts: any login is accepted and becomes the account id ---------------------------
// Extra claims per login (`POST /__accounts`), e.g. groups, or an email left out.
const accountClaims = new Map();
async function findAccount(ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      const base = {
        sub, email: `${sub}@campus.test`, email_verified: true, name: `Test User ${sub}`,
      };
      return { ...base, ...(accountClaims.get(sub) ?? {}) };
    },
  };
}

// ---- signing keys: rotated on demand (`POST /__rotate-keys`) -------------------------------
let keyCounter = 0;
function newKey() {
  keyCounter += 1;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `test-key-${keyCounter}`;
  return { kid, privateKey, jwk: { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' } };
}
let keys = [newKey()]; // the first signs; every key is published

const b64u = (data) => Buffer.from(data).toString('base64url');
function signJwt(header, payload, privateKey) {
  const signingInput = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}`;
  if (header.alg === 'none') return `${signingInput}.`;
  return `${signingInput}.${b64u(crypto.sign('sha256', Buffer.from(signingInput), privateKey))}`;
}
const decodePart = (part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

// ID-token tampering for the next token response (`POST /__tamper-id-token`), to show a
// relying party refusing it; `lastIdToken` is kept for the `replay` mode.
let tamperMode = null;
let lastIdToken = null;
function tamper(idToken, mode) {
  const [h, p] = idToken.split('.');
  const header = decodePart(h);
  const payload = decodePart(p);
  const now = Math.floor(Date.now() / 1000);
  switch (mode) {
    case 'replay':
      return lastIdToken ?? idToken;
    case 'expired':
      return signJwt(header, { ...payload, iat: now - 1200, exp: now - 600 }, keys[0].privateKey);
    case 'wrong_audience':
      return signJwt(header, { ...payload, aud: 'another-client' }, keys[0].privateKey);
    case 'foreign_azp':
      return signJwt(header, { ...payload, aud: [payload.aud, 'another-client'], azp: 'another-client' }, keys[0].privateKey);
    case 'nonce':
      return signJwt(header, { ...payload, nonce: 'not-the-nonce-that-was-sent' }, keys[0].privateKey);
    case 'forged':
      // Same kid, another key: the signature cannot verify.
      return signJwt(header, payload, crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    case 'alg_none':
      return signJwt({ alg: 'none', typ: 'JWT' }, payload, null);
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

// ---- start ---------------------------------------------------------------------------------
const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;
const cookieKeys = [crypto.randomBytes(32).toString('hex')];
let clients = config.clients ?? [];

function makeProvider() {
  const provider = new Provider(issuer, {
    adapter: MemoryAdapter,
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      ...(c.backchannel_logout_uri ? {
        backchannel_logout_uri: c.backchannel_logout_uri,
        backchannel_logout_session_required: true,
      } : {}),
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'groups'],
    },
    // Scope claims go into the ID token too (not only userinfo), as many campus IdPs do.
    conformIdTokenClaims: false,
    findAccount,
    jwks: { keys: keys.map((k) => k.jwk) },
    cookies: { keys: cookieKeys },
    routes: ROUTES,
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
    rotateRefreshToken: true,
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    features: {
      devInteractions: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
      },
      userinfo: { enabled: true },
      introspection: { enabled: false },
      resourceIndicators: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      // Logout tokens to a client's backchannel_logout_uri; with it, ID tokens carry `sid`.
      backchannelLogout: { enabled: true },
    },
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: refreshTokenTtl,
      Grant: Math.max(refreshTokenTtl, accessTokenTtl) * 2,
      Interaction: 600,
      Session: 86400,
    },
    clientBasedCORS: () => false,
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><title>oops</title><pre id="error">${JSON.stringify(out)
        .replace(/[<>&]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>`;
    },
  });

  // Test-control endpoints and counters, in front of the provider's own routes.
  provider.use(async (ctx, next) => {
    const { path, method } = ctx;
    const json = (status, body) => { ctx.status = status; ctx.type = 'json'; ctx.body = body; };

    if (path === '/__stats' && method === 'GET') return json(200, stats);
    if (path === '/__token-failures' && method === 'POST') {
      const b = JSON.parse((await readBody(ctx.req)) || '{}');
      failures = { status: Number(b.status), count: Number(b.count ?? 1), retry_after: b.retry_after };
      return json(200, { ok: true });
    }
    if (path === '/__token-delay' && method === 'POST') {
      tokenDelayMs = Number(JSON.parse((await readBody(ctx.req)) || '{}').ms ?? 0);
      return json(200, { ok: true });
    }
    if (path === '/__revoke-all' && method === 'POST') return json(200, { revoked_grants: revokeAll() });
    if (path === '/__clients' && method === 'POST') {
      clients = JSON.parse((await readBody(ctx.req)) || '{}').clients ?? [];
      rebuild();
      return json(200, { ok: true });
    }
    if (path === '/__accounts' && method === 'POST') {
      const b = JSON.parse((await readBody(ctx.req)) || '{}');
      accountClaims.set(String(b.login), b.claims ?? {});
      return json(200, { ok: true });
    }
    if (path === '/__rotate-keys' && method === 'POST') {
      keys = [newKey(), ...keys];
      rebuild();
      return json(200, { kid: keys[0].kid });
    }
    if (path === '/__tamper-id-token' && method === 'POST') {
      tamperMode = JSON.parse((await readBody(ctx.req)) || '{}').mode ?? null;
      return json(200, { ok: true });
    }
    if (path === '/__logout-token' && method === 'POST') {
      // A back-channel logout token signed with the current key (OIDC Back-Channel Logout
      // 1.0 §2.4); `claims` overrides or adds claims (null removes one), `header` likewise.
      const b = JSON.parse((await readBody(ctx.req)) || '{}');
      const now = Math.floor(Date.now() / 1000);
      const payload = {
        iss: issuer,
        aud: b.aud ?? clients[0]?.client_id,
        iat: now,
        exp: now + 120,
        jti: crypto.randomUUID(),
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
      };
      for (const [k, v] of Object.entries(b.claims ?? {})) {
        if (v === null) delete payload[k]; else payload[k] = v;
      }
      const header = { alg: 'RS256', typ: 'logout+jwt', kid: keys[0].kid, ...(b.header ?? {}) };
      const signer = b.forged
        ? crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
        : keys[0].privateKey;
      return json(200, { logout_token: signJwt(header, payload, signer) });
    }

    if (path === ROUTES.revocation) stats.revocations += 1;
    if (path === ROUTES.userinfo) stats.userinfo_requests += 1;
    if (path !== ROUTES.token || method !== 'POST') return next();

    stats.token_requests += 1;
    if (tokenDelayMs > 0) await new Promise((r) => { setTimeout(r, tokenDelayMs); });

    if (failures.count > 0) {
      failures.count -= 1;
      stats.injected_failures += 1;
      const grantType = new URLSearchParams(await readBody(ctx.req)).get('grant_type');
      if (grantType) bump(stats.grant_types, grantType);
      if (failures.retry_after !== undefined && failures.retry_after !== null) {
        ctx.set('Retry-After', String(failures.retry_after));
      }
      if (failures.status === 429) return json(429, { error: 'slow_down' });
      return json(failures.status, { error: 'temporarily_unavailable' });
    }

    await next();
    const grantType = ctx.oidc?.params?.grant_type ?? ctx.oidc?.body?.grant_type;
    if (grantType) bump(stats.grant_types, grantType);
    if (ctx.status >= 400 && ctx.body?.error) bump(stats.token_errors, ctx.body.error);
    if (ctx.status === 200 && typeof ctx.body?.id_token === 'string') {
      const issued = ctx.body.id_token;
      if (tamperMode) {
        ctx.body = { ...ctx.body, id_token: tamper(issued, tamperMode) };
        tamperMode = null;
      }
      lastIdToken = issued;
    }
    return undefined;
  });

  provider.on('server_error', (ctx, err) => { console.error('oauth-server: server_error', err); });
  return provider;
}

// Clients and keys are fixed when a provider is made, so changing them makes a new provider
// over the same storage (sessions, grants and tokens live on).
let handler;
function rebuild() { handler = makeProvider().callback(); }
rebuild();
server.on('request', (req, res) => handler(req, res));
console.log(`listening ${issuer}`);

const shutdown = () => { server.close(); process.exit(0); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
