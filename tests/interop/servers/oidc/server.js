// oidc-provider configured as a strict OAuth 2.0 authorization server for freshtoken's interop tests.
//
// Started by tests/interop/servers.py; nothing here is test-specific logic: every response is
// oidc-provider's own. Configuration comes from a JSON file named by FT_OIDC_CONFIG:
//
//   {
//     "port": 12345,                      // required; the fixture picks a free loopback port
//     "host": "127.0.0.1",                // optional
//     "access_token_ttl": 60,             // seconds (env FT_OIDC_AT_TTL overrides)
//     "refresh_token_ttl": 86400,         // seconds (env FT_OIDC_RT_TTL overrides)
//     "clients": [ { ...oidc-provider client metadata...,
//                    "x_access_token_ttl": 5, "x_refresh_token_ttl": 2 } ]   // optional per-client TTLs
//   }
//
// On success it prints exactly one line "FRESHTOKEN-OIDC-READY <json>" on stdout.
import { readFileSync } from 'node:fs';
import * as http from 'node:http';

import Provider from 'oidc-provider';

const configPath = process.env.FT_OIDC_CONFIG;
if (!configPath) {
  console.error('FT_OIDC_CONFIG (path to a JSON config file) is required');
  process.exit(2);
}
const cfg = JSON.parse(readFileSync(configPath, 'utf8'));
const host = cfg.host || '127.0.0.1';
const port = Number(cfg.port || process.env.PORT);
if (!port) {
  console.error('config "port" is required');
  process.exit(2);
}
const envInt = (name, dflt) => (process.env[name] ? Number(process.env[name]) : dflt);
const AT_TTL = envInt('FT_OIDC_AT_TTL', cfg.access_token_ttl ?? 60);
const RT_TTL = envInt('FT_OIDC_RT_TTL', cfg.refresh_token_ttl ?? 86400);

// Per-client TTL overrides are kept here rather than in client metadata (oidc-provider refuses
// unknown metadata unless declared as extraClientMetadata).
const perClient = new Map();
const clients = (cfg.clients || []).map((c) => {
  const { x_access_token_ttl: at, x_refresh_token_ttl: rt, ...meta } = c;
  perClient.set(meta.client_id, { at, rt });
  return {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/cb'],
    ...meta,
  };
});

const issuer = `http://${host}:${port}`;

const configuration = {
  clients,
  // Strict defaults that would otherwise get in a refresh test's way.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  clockTolerance: 0,
  expiresWithSession: async () => false,
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    clientCredentials: { enabled: true }, // the client_credentials grant (tests/strategies)
  },
  scopes: ['openid', 'offline_access', 'api'],
  cookies: { keys: ['freshtoken-interop-cookie-key-not-secret'] },
  ttl: {
    AccessToken: (ctx, token, client) => perClient.get(client?.clientId)?.at ?? AT_TTL,
    RefreshToken: (ctx, token, client) => perClient.get(client?.clientId)?.rt ?? RT_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 14 * 24 * 3600,
  },
  // Render errors as JSON-ish text so test failures are readable.
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));
for (const event of ['grant.error', 'revocation.error', 'introspection.error']) {
  // error_detail says why (e.g. "refresh token is expired"); the client only sees error_description.
  provider.on(event, (ctx, err) => console.error(`${event} ${err.error}: ${err.error_detail || err.error_description}`));
}
provider.on('grant.revoked', (ctx, grantId) => console.error(`grant.revoked ${grantId}`));

const server = http.createServer(provider.callback());
server.on('error', (err) => {
  console.error(`listen failed: ${err.message}`);
  process.exit(3);
});
server.listen(port, host, () => {
  process.stdout.write(`FRESHTOKEN-OIDC-READY ${JSON.stringify({ issuer, pid: process.pid })}\n`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
