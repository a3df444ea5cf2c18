/**
 * Browser test helpers: build the page with Vite into a temporary directory, launch
 * Debian's Chromium through playwright-core, sign users in, and save screenshots under
 * test-artifacts/browser/.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { build } from 'vite';

export const WEB_DIR = fileURLToPath(new URL('../../web', import.meta.url));
export const ARTIFACTS_DIR = fileURLToPath(new URL('../../test-artifacts/browser', import.meta.url));
/** Debian's chromium (`apt-get install chromium`); CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Flags for a headless Chromium on a machine without network or GPU, running as root. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];
/** Every wait for something on the page ends after this long (no sleeps anywhere). */
export const PAGE_TIMEOUT_MS = 10_000;

/** Builds the page (`vite build web`) into a fresh temporary directory; returns it and a cleanup. */
export async function buildPage(): Promise<{ readonly dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'chat-web-'));
  await build({ root: WEB_DIR, logLevel: 'warn', build: { outDir: dir, emptyOutDir: true } });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}. Install Debian's: apt-get install -y --no-install-recommends chromium ` +
        '(or set CHROMIUM_PATH).',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** A browser context (its own storage, like another person's browser) with one page. */
export interface Person {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught page errors and console errors (CSP violations included). */
  readonly problems: string[];
}

export async function openPerson(browser: Browser, name: string, url: string): Promise<Person> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
  });
  await page.goto(url);
  return { name, context, page, problems };
}

/** Signs in through the form and waits for the connection state to say so. */
export async function signIn(
  person: Person,
  userId: string,
  options: { admin?: boolean } = {},
): Promise<void> {
  const { page } = person;
  await page.getByLabel('User id', { exact: true }).fill(userId);
  if (options.admin) await page.getByLabel('Admin (may broadcast)', { exact: true }).check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: /^Connected$/ })
    .waitFor();
}

export async function screenshot(person: Person, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await person.page.screenshot({ path });
  return path;
}

/** The open conversation's message log. */
export const messageLog = (person: Person) => person.page.getByRole('log', { name: 'Messages' });

/** Sends `text` in the open conversation and waits until it shows there. */
export async function sendInOpenConversation(person: Person, text: string): Promise<void> {
  await person.page.getByLabel('Message', { exact: true }).fill(text);
  await person.page.getByRole('button', { name: 'Send', exact: true }).click();
  await messageLog(person).getByText(text, { exact: true }).waitFor();
}
