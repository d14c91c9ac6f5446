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
async function findAccount(ctx, sub) {
  return {
    accountId: sub,
    async claims() {
      return {
        sub, email: `${sub}@campus.test`, email_verified: true, name: `Test User ${sub}`,
      };
    },
  };
}

// ---- start ---------------------------------------------------------------------------------
const server = http.createServer();
await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  clients: (config.clients ?? []).map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
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
    profile: ['name'],
  },
  findAccount,
  jwks: { keys: [jwk] },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
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
  return undefined;
});

provider.on('server_error', (ctx, err) => { console.error('oauth-server: server_error', err); });

server.on('request', provider.callback());
console.log(`listening ${issuer}`);

const shutdown = () => { server.close(); process.exit(0); };
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
