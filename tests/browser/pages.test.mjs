// Headless-Chromium tests of the customer pages behind the links of the confirmation email:
// the tracking page, the returns portal (a plain form post, with JavaScript off), the 404 page
// of a tampered link, and the tracking page again once the carrier says delivered.
// scripts/browser-test.sh prepares everything (the sample order, fulfillment and carrier scans
// up to a failed attempt) and runs `node --test tests/browser/` with BASE_URL (a `ppx serve`
// whose PPX_PUBLIC_URL is BASE_URL), MOTO_URL (local AWS, where SES keeps the emails), SHOP and
// SCREENSHOT_DIR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const BASE_URL = (process.env.BASE_URL ?? '').replace(/\/+$/, '');
const MOTO_URL = (process.env.MOTO_URL ?? 'http://127.0.0.1:4599').replace(/\/+$/, '');
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR ?? 'target/browser';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOP = process.env.SHOP ?? 'demo-shop';
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CUSTOMER = 'ada@example.com';
// The sample carrier events (events/generic-tracking-event.json), newest first.
const NEWEST_SCANS = ['Customer not available', 'Out for delivery', 'Arrived at facility', 'Departed from facility'];

let browser;
let links; // { track, returns }: set by the first test, used by the others

// Reads moto's raw messages (JSON on stdin) and prints each one's To, Subject and HTML part.
const DECODE_MIME = `
import email, json, sys
from email import policy
out = []
for m in json.load(sys.stdin):
    message = email.message_from_string(m.get("raw_data", ""), policy=policy.default)
    html = message.get_body(preferencelist=("html",))
    out.append({"to": str(message["To"] or ""), "subject": str(message["Subject"] or ""),
                "body": html.get_content() if html else ""})
print(json.dumps(out))
`;

const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const screenshot = (page, name) => page.screenshot({ path: join(SCREENSHOT_DIR, name), fullPage: true });
const needLinks = () => assert.ok(links, 'no links from the confirmation email: see the first test');

// A fresh context per test: no JavaScript (the pages must work without it) and no request
// leaves 127.0.0.1 (the carrier link is checked, never followed).
// The timeline: the entries of the list whose own items hold the sample's failed attempt.
const timeline = (page) =>
  page.evaluate((scan) => {
    const items = (list) => [...list.children].filter((c) => c.tagName === 'LI' || c.getAttribute('role') === 'listitem');
    const list = [...document.querySelectorAll('ol, ul, [role="list"]')].find((l) =>
      items(l).some((li) => li.textContent.includes(scan)),
    );
    return list ? items(list).map((li) => li.textContent.replace(/\s+/g, ' ').trim()) : null;
  }, NEWEST_SCANS[0]);

async function newPage() {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 420, height: 900 } });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  await context.route('**/*', (route) =>
    new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort('blockedbyclient'),
  );
  return context.newPage();
}

before(async () => {
  assert.ok(BASE_URL, 'BASE_URL is not set (run scripts/browser-test.sh)');
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    // launch() gives the browser a fresh, temporary --user-data-dir of its own.
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, { timeout: 45_000 });

after(async () => {
  await browser?.close();
});

test('the confirmation email links to the tracking page and the returns portal', { timeout: 15_000 }, async () => {
  const response = await fetch(`${MOTO_URL}/moto-api/data.json`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, 'moto data.json');
  const state = await response.json();
  const trackRe = new RegExp(`${escapeRegExp(BASE_URL)}/track/([A-Za-z0-9_.-]+)`);
  const returnsRe = new RegExp(`/returns/([A-Za-z0-9_.-]+)`);
  // Every email is raw MIME: Python's email package (local AWS's virtualenv) decodes its parts.
  const decoded = JSON.parse(
    execFileSync(join(REPO, '.venv/bin/python'), ['-c', DECODE_MIME], {
      input: JSON.stringify(state.ses?.RawMessage ?? []),
      maxBuffer: 256 * 1024 * 1024,
    }).toString(),
  );
  // Earlier runs and the cargo tests may have written to the same moto: only this server's links.
  const emails = decoded.filter((m) => (m.to ?? '').includes(CUSTOMER) && trackRe.test(m.body ?? ''));
  assert.ok(emails.length > 0, `no email to ${CUSTOMER} with a link to ${BASE_URL}/track/`);
  const confirmations = emails.filter((m) => /confirm/i.test(m.subject ?? ''));
  const email = (confirmations.length ? confirmations : emails).at(-1);
  const track = email.body.match(trackRe);
  const returns = email.body.match(returnsRe);
  assert.ok(returns, `the email "${email.subject}" has no /returns/ link`);
  links = { track: `${BASE_URL}/track/${track[1]}`, returns: `${BASE_URL}/returns/${returns[1]}`, trackToken: track[1] };
});

test('the tracking page shows the failed attempt and the scans newest first', { timeout: 30_000 }, async () => {
  needLinks();
  const page = await newPage();
  try {
    const response = await page.goto(links.track);
    assert.equal(response.status(), 200);
    const html = await response.body();
    assert.ok(html.length < 30 * 1024, `the page is ${html.length} bytes, over 30 KB`);

    const text = await page.locator('body').innerText();
    assert.match(text, /attempt/i, 'the current status mentions the delivery attempt');
    // A failed attempt shows what happens next in place of the progress steps; any steps shown
    // mark the current one (the last test sees them once the parcel is delivered).
    const progress = page.locator('ol.steps, [aria-label="Delivery progress"]');
    if ((await progress.count()) > 0) {
      assert.ok((await page.locator('[aria-current="step"]').count()) >= 1, 'a progress step has aria-current="step"');
    } else {
      assert.match(text, /what happens next|try again|reschedule/i, 'the attempt notice says what happens next');
    }

    const entries = await timeline(page);
    assert.ok(entries, `no list of checkpoints mentioning "${NEWEST_SCANS[0]}"`);
    assert.ok(entries.length >= 3, `the timeline has ${entries.length} checkpoints: ${JSON.stringify(entries)}`);
    assert.match(entries[0], new RegExp(escapeRegExp(NEWEST_SCANS[0])), 'the newest scan comes first');
    const positions = NEWEST_SCANS.map((scan) => entries.findIndex((e) => e.includes(scan))).filter((i) => i >= 0);
    assert.ok(positions.length >= 3, `the timeline misses sample scans: ${JSON.stringify(entries)}`);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b), `not newest first: ${JSON.stringify(entries)}`);

    const carrier = await page.locator('a[href*="ups.com"]').first().getAttribute('href');
    assert.ok(carrier, 'a link to the carrier');
    assert.match(new URL(carrier).hostname, /(^|\.)ups\.com$/);

    await screenshot(page, 'tracking.png');
  } finally {
    await page.context().close();
  }
});

test('the tracking page is private: CSP, no referrer, not cached', { timeout: 20_000 }, async () => {
  needLinks();
  const page = await newPage();
  try {
    const response = await page.goto(links.track);
    assert.equal(response.status(), 200);
    const headers = await response.allHeaders();
    assert.ok(headers['content-security-policy'], 'content-security-policy is set');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    assert.match(headers['cache-control'] ?? '', /\bno-store\b/);
  } finally {
    await page.context().close();
  }
});

test('the returns portal takes a return with a plain form post', { timeout: 30_000 }, async () => {
  needLinks();
  const page = await newPage();
  try {
    const response = await page.goto(links.returns);
    assert.equal(response.status(), 200);
    const returnsPath = new URL(links.returns).pathname;
    const form = page.locator('form').filter({ has: page.locator('select[name^="qty_"]') }).first();
    assert.equal((await form.getAttribute('method'))?.toLowerCase(), 'post');
    assert.equal(new URL((await form.getAttribute('action')) ?? '', links.returns).pathname, returnsPath);
    assert.equal(await form.locator('input[type="hidden"][name="idempotency_key"]').count(), 1);

    const quantity = form.locator('select[name^="qty_"]').first();
    const line = (await quantity.getAttribute('name')).slice('qty_'.length);
    await quantity.selectOption('1');
    await form.locator(`select[name="reason_${line}"]`).selectOption('doesnt_fit');
    const refund = form.locator('input[type="radio"][name="resolution"][value="refund"]');
    assert.equal(await refund.count(), 1, 'a refund choice');
    await refund.check();
    await screenshot(page, 'returns-portal.png');

    const [post] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === returnsPath),
      form.getByRole('button', { name: /request return/i }).click(),
    ]);
    assert.ok(post.status() < 400, `the form post answered ${post.status()}`);
    await page.waitForLoadState('load');
    const text = await page.locator('body').innerText();
    assert.match(text, /approved|review/i, `no decision on the result page: ${text.slice(0, 500)}`);
    await screenshot(page, 'return-result.png');
  } finally {
    await page.context().close();
  }
});

test('a tampered tracking link gets the friendly 404 page', { timeout: 20_000 }, async () => {
  needLinks();
  const token = links.trackToken;
  // Change one character in the middle (the last one may only carry padding bits).
  let i = Math.floor(token.length / 2);
  while (i < token.length - 1 && !/[A-Za-z0-9]/.test(token[i])) i++;
  const tampered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
  const page = await newPage();
  try {
    const response = await page.goto(`${BASE_URL}/track/${tampered}`);
    assert.equal(response.status(), 404);
    assert.match(await page.locator('body').innerText(), /not valid|expired/i);
    await screenshot(page, 'not-found.png');
  } finally {
    await page.context().close();
  }
});

test('once delivered, the tracking page marks the last step current', { timeout: 30_000 }, async () => {
  needLinks();
  // The carrier says delivered: the demo's EasyPost sample, for the parcel of the sample order.
  const answer = execFileSync(
    'python3',
    [
      'scripts/post_webhook.py', BASE_URL, SHOP, 'easypost', 'events/easypost-tracker-updated.json',
      '--set', 'result.tracking_code=1Z999AA10123456784', '--set', 'result.carrier=UPS',
    ],
    { cwd: REPO, encoding: 'utf8', timeout: 15_000 },
  );
  assert.match(answer, /^200 /, `the EasyPost webhook answered ${answer}`);
  const page = await newPage();
  try {
    const response = await page.goto(links.track);
    assert.equal(response.status(), 200);
    const current = page.locator('[aria-current="step"]');
    assert.ok((await current.count()) >= 1, 'a progress step has aria-current="step"');
    assert.match(await current.first().innerText(), /delivered/i);
    const entries = await timeline(page);
    assert.ok(entries, `no list of checkpoints mentioning "${NEWEST_SCANS[0]}"`);
    assert.match(entries[0], /delivered/i, `the newest scan comes first: ${JSON.stringify(entries)}`);
    await screenshot(page, 'tracking-delivered.png');
  } finally {
    await page.context().close();
  }
});
