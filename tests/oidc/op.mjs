// A real OpenID provider for the portal's login tests: the npm package `oidc-provider`, certified
// by the OpenID Foundation, with its development login pages (any password is accepted; the login
// name is the subject). Started by the tests, never by the system.
//
// Environment: OP_MODULE (the installed package's directory), OP_PORT, OP_CLIENT_ID,
// OP_CLIENT_SECRET, OP_REDIRECT_URI, and OP_ACCOUNTS_FILE: a JSON object from login name to the
// claims that account's ID tokens carry, read at every login so a test can change them.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

const { default: Provider } = await import(pathToFileURL(join(process.env.OP_MODULE, 'lib/index.js')).href);

const port = Number(process.env.OP_PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = () => JSON.parse(readFileSync(process.env.OP_ACCOUNTS_FILE, 'utf8'));
// The claims beyond name and e-mail that any account has, released with the profile scope.
const extra = [...new Set(Object.values(accounts()).flatMap((a) => Object.keys(a)))]
  .filter((k) => !['name', 'email'].includes(k));

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.OP_CLIENT_ID,
    client_secret: process.env.OP_CLIENT_SECRET,
    redirect_uris: [process.env.OP_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  // PKCE for every client, not only public ones: the portal must send it.
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', ...extra], email: ['email'] },
  // The claims go into the ID token itself, which is what the portal reads.
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, ...(accounts()[id] || { name: id }) }),
  }),
  // The portal is a first-party client: no consent page.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['dtr-test-op-cookie-key'] },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => console.log(`op ready ${issuer}`));
