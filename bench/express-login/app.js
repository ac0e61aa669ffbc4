// Log in with XWMS in plain Express, written the way XWMS's integration guide describes it:
// sign-token -> the browser goes to XWMS -> back to /xwms/validateToken?token= ->
// sign-token-verify -> the account is found or created by `sub`.
// Only the comparison app of scripts/bench (see README.md); not part of the starter.
const express = require('express');
const cookieSession = require('cookie-session');
const { Pool } = require('pg');

const required = [
  'DATABASE_URL', 'SESSION_SECRET', 'XWMS_CLIENT_ID', 'XWMS_CLIENT_SECRET',
  'XWMS_CLIENT_DOMAIN', 'XWMS_REDIRECT_URI',
];
for (const name of required) {
  if (!process.env[name]) {
    console.error(`${name} is not set`);
    process.exit(1);
  }
}

const port = Number(process.env.PORT || 3000);
// The API's paths are relative to the base URL, which must end in a slash.
const apiUrl = (process.env.XWMS_API_URL || 'https://xwms.nl/api/').replace(/\/?$/, '/');
const redirectUri = process.env.XWMS_REDIRECT_URI;

const pool = new Pool({ connectionString: process.env.DATABASE_URL });

const app = express();
app.use(cookieSession({
  name: 'session',
  keys: [process.env.SESSION_SECRET],
  httpOnly: true,
  sameSite: 'lax',
  // Secure cookies only where the app is served over HTTPS (cookie-session refuses to
  // send them over plain HTTP).
  secure: redirectUri.startsWith('https://'),
  maxAge: 8 * 60 * 60 * 1000,
}));

// POST to the XWMS API; answers `data` of a successful envelope, throws otherwise.
async function xwms(endpoint, body) {
  const response = await fetch(apiUrl + endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'X-Client-Id': process.env.XWMS_CLIENT_ID,
      'X-Client-Secret': process.env.XWMS_CLIENT_SECRET,
      'X-Client-Domain': process.env.XWMS_CLIENT_DOMAIN,
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok || !json || json.status !== 'success') {
    throw new Error(`XWMS ${endpoint} failed (HTTP ${response.status}): ${json?.message ?? 'no JSON'}`);
  }
  return json.data || {};
}

const escapeHtml = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => (
  { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;

app.get('/health', (req, res) => res.send('ok'));

app.get('/', (req, res) => {
  const body = req.session.userId
    ? '<p><a href="/profile">Your profile</a></p>'
    : '<p><a href="/xwms/auth">Log in with XWMS</a></p>';
  res.send(page('Home', body));
});

app.get('/xwms/auth', async (req, res) => {
  const data = await xwms('sign-token', { redirect_url: redirectUri });
  if (!data.url) throw new Error('XWMS sign-token answered without a url');
  // Remembered so that the callback only accepts the login this browser started.
  req.session.xwmsToken = data.token;
  res.redirect(data.url);
});

app.get('/xwms/validateToken', async (req, res) => {
  const token = req.query.token;
  const expected = req.session.xwmsToken;
  if (expected) delete req.session.xwmsToken; // single use, whatever happens next
  if (typeof token !== 'string' || !expected || token !== expected) {
    // XWMS sends failures back without a token, sometimes with a message to show.
    const message = req.query.xwmsmessage_message;
    const text = typeof message === 'string' ? `<p>${escapeHtml(message)}</p>` : '';
    return res.status(400).send(page('Login failed', `${text}<p><a href="/xwms/auth">Try again</a></p>`));
  }
  const data = await xwms('sign-token-verify', { token, redirect_url: redirectUri });
  const user = data.user || data;
  if (user.sub === undefined || user.sub === null) throw new Error('XWMS user without sub');
  const sub = String(user.sub);

  // Link by `sub`, never by email: find the connection or create user and connection.
  const client = await pool.connect();
  let userId;
  try {
    await client.query('BEGIN');
    const found = await client.query('SELECT user_id FROM xwms_connections WHERE sub = $1', [sub]);
    if (found.rows.length > 0) {
      userId = found.rows[0].user_id;
      await client.query('UPDATE users SET name = $1, email = $2 WHERE id = $3',
        [user.name ?? null, user.email ?? null, userId]);
    } else {
      const created = await client.query('INSERT INTO users (name, email) VALUES ($1, $2) RETURNING id',
        [user.name ?? null, user.email ?? null]);
      userId = created.rows[0].id;
      await client.query('INSERT INTO xwms_connections (user_id, sub) VALUES ($1, $2)', [userId, sub]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }

  req.session = { userId }; // a new session for the signed-in user
  res.redirect('/profile');
});

app.get('/profile', async (req, res) => {
  if (!req.session.userId) return res.redirect('/');
  const { rows } = await pool.query(
    `SELECT u.name, u.email, c.sub FROM users u
     JOIN xwms_connections c ON c.user_id = u.id WHERE u.id = $1`, [req.session.userId]);
  if (rows.length === 0) {
    req.session = null;
    return res.redirect('/');
  }
  const { name, email, sub } = rows[0];
  res.send(page('Profile', `
<p>Name: ${escapeHtml(name)}</p>
<p>Email: ${escapeHtml(email)}</p>
<p>XWMS account: <code>${escapeHtml(sub)}</code></p>
<form method="post" action="/logout"><button>Log out</button></form>`));
});

app.post('/logout', (req, res) => {
  req.session = null;
  res.redirect('/');
});

// Express 5 passes errors of async handlers here. The details go to the log only.
app.use((err, req, res, next) => {
  console.error(err.message);
  res.status(500).send(page('Something went wrong', '<p><a href="/">Home</a></p>'));
});

async function start() {
  await pool.query(`CREATE TABLE IF NOT EXISTS users (
    id SERIAL PRIMARY KEY,
    name TEXT,
    email TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
  await pool.query(`CREATE TABLE IF NOT EXISTS xwms_connections (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sub TEXT NOT NULL UNIQUE)`);
  app.listen(port, () => console.log(`listening on http://localhost:${port}`));
}

start().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
