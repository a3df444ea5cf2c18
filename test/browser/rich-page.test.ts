/**
 * Rich messages in the web page, in a real browser (Debian's Chromium via playwright-core)
 * against the local runtime and its embedded S3: alice picks a real PNG with the page's
 * file input; bob sees it rendered (the image decoded: naturalWidth > 0) and downloads a
 * text file she attaches; bob sees alice typing, answers with a reply that quotes her;
 * alice edits her message and bob sees the new text marked edited; bob reacts and alice
 * sees the count. Assertions are on what a person sees.
 * Screenshots: test-artifacts/browser/rich-*.png.
 * Run: npx tsx --test test/browser/rich-page.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Locator } from 'playwright-core';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime } from '../support/local-runtime.ts';
import { solidPng } from '../support/png.ts';
import {
  buildPage,
  launchChromium,
  messageLog,
  openPerson,
  type Person,
  screenshot,
  sendInOpenConversation,
  signIn,
} from './support.ts';

let page: Awaited<ReturnType<typeof buildPage>> | undefined;
let runtime: LocalRuntime | undefined;
let browser: Browser | undefined;
const people: Person[] = [];
let alice: Person;
let bob: Person;

const IMAGE = { name: 'red-dot.png', width: 48, height: 32, buffer: solidPng(48, 32, [220, 30, 30]) };

before(async () => {
  page = await buildPage();
  runtime = await startTestRuntime({ webRoot: page.dir });
  browser = await launchChromium();
  alice = await openPerson(browser, 'alice', `${runtime.httpUrl}/`);
  bob = await openPerson(browser, 'bob', `${runtime.httpUrl}/`);
  people.push(alice, bob);
});

after(async () => {
  await browser?.close();
  await runtime?.stop();
  await page?.remove();
});

async function step(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    for (const person of people)
      await screenshot(person, `FAILED-rich-${name}-${person.name}`).catch(() => {});
    throw error;
  }
}

/** The message line in `person`'s open conversation whose text is `text` (quotes of it do not count). */
const lineWith = (person: Person, text: string): Locator =>
  messageLog(person)
    .getByRole('listitem')
    .filter({ has: person.page.getByText(text, { exact: true }) });

/** What the test reads of an <img> in the page (the tests compile without the DOM library). */
interface ImageElement {
  readonly complete: boolean;
  readonly naturalWidth: number;
  readonly naturalHeight: number;
  readonly src: string;
  addEventListener(type: 'load' | 'error', listener: () => void, options: { once: boolean }): void;
}

/** Clicks one of a line's actions, which show while the pointer is on the line. */
async function act(line: Locator, name: string): Promise<void> {
  await line.hover();
  await line.getByRole('button', { name, exact: true }).click();
}

/** The line that shows the image `name`. */
const imageLine = (person: Person, name: string): Locator =>
  messageLog(person)
    .getByRole('listitem')
    .filter({ has: person.page.getByRole('img', { name }) });

describe('rich messages in the web page', () => {
  test('alice and bob open a chat', () =>
    step('open', async () => {
      await signIn(alice, 'alice');
      await signIn(bob, 'bob');
      await alice.page.getByLabel('Chat with user id', { exact: true }).fill('bob');
      await alice.page.getByRole('button', { name: 'Open chat' }).click();
      await sendInOpenConversation(alice, 'Look at this');
      await bob.page.getByRole('heading', { name: 'Chat with alice' }).waitFor();
      await messageLog(bob).getByText('Look at this', { exact: true }).waitFor();
    }));

  test("alice attaches a real PNG; bob's browser loads and shows it", () =>
    step('image', async () => {
      await alice.page.getByLabel('Attach a file').setInputFiles({
        name: IMAGE.name,
        mimeType: 'image/png',
        buffer: IMAGE.buffer,
      });
      // Her own line shows the picked file, then becomes a stored message.
      await imageLine(alice, IMAGE.name).filter({ hasNotText: 'Sending' }).waitFor();
      const image = messageLog(bob).getByRole('img', { name: IMAGE.name });
      await image.waitFor();
      // Decoded by the browser from the presigned S3 URL (a broken image has naturalWidth 0).
      await image.evaluate((node) => {
        const img = node as unknown as ImageElement;
        if (img.complete && img.naturalWidth > 0) return;
        return new Promise((resolve, reject) => {
          img.addEventListener('load', () => resolve(undefined), { once: true });
          img.addEventListener('error', () => reject(new Error(`image failed: ${img.src}`)), { once: true });
        });
      });
      const size = await image.evaluate((node) => {
        const img = node as unknown as ImageElement;
        return [img.naturalWidth, img.naturalHeight];
      });
      assert.deepEqual(size, [IMAGE.width, IMAGE.height]);
      const src = await image.getAttribute('src');
      assert.match(src ?? '', /^http:\/\/.*X-Amz-Signature=/, 'a presigned URL, not the page origin');
      await screenshot(bob, 'rich-01-image-bob');
    }));

  test('alice attaches a text file; bob gets a download link to its content', () =>
    step('file', async () => {
      await alice.page.getByLabel('Attach a file').setInputFiles({
        name: 'notes.txt',
        mimeType: 'text/plain',
        buffer: Buffer.from('Trailhead at 8, bring water.\n'),
      });
      const link = messageLog(bob).getByRole('link', { name: /notes\.txt/ });
      await link.waitFor();
      assert.equal(await link.getAttribute('download'), 'notes.txt');
      const href = await link.getAttribute('href');
      assert.ok(href);
      const response = await fetch(href);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'Trailhead at 8, bring water.\n');
    }));

  test('bob types: alice sees "bob is typing…"; his reply quotes her message and ends it', () =>
    step('typing-reply', async () => {
      const typing = alice.page.getByText('bob is typing…');
      await act(lineWith(bob, 'Look at this'), 'Reply');
      await bob.page.getByText('Replying to alice: Look at this').waitFor();
      await bob.page.getByLabel('Message', { exact: true }).pressSequentially('Nice');
      await typing.waitFor();
      await screenshot(alice, 'rich-02-typing-alice');
      await bob.page.getByLabel('Message', { exact: true }).pressSequentially(' picture!');
      await bob.page.getByRole('button', { name: 'Send', exact: true }).click();
      const reply = lineWith(alice, 'Nice picture!');
      await reply.waitFor();
      assert.equal(await reply.getByRole('blockquote').textContent(), 'You Look at this');
      await typing.waitFor({ state: 'detached' });
    }));

  test('alice edits her message: bob sees the new text, marked edited', () =>
    step('edit', async () => {
      await act(lineWith(alice, 'Look at this'), 'Edit');
      await alice.page.getByText('Editing your message').waitFor();
      const box = alice.page.getByLabel('Message', { exact: true });
      assert.equal(await box.inputValue(), 'Look at this');
      await box.fill('Look at this red dot');
      await alice.page.getByRole('button', { name: 'Send', exact: true }).click();
      const edited = lineWith(bob, 'Look at this red dot');
      await edited.getByText('(edited)').waitFor();
      // bob's reply quotes the new text too.
      await lineWith(bob, 'Nice picture!').getByText('Look at this red dot').waitFor();
      // Only one's own messages can be edited.
      assert.equal(
        await lineWith(bob, 'Look at this red dot').getByRole('button', { name: 'Edit' }).count(),
        0,
      );
      await screenshot(bob, 'rich-03-edited-bob');
    }));

  test('bob reacts to the image: alice sees the count; taking it back removes it', () =>
    step('react', async () => {
      await act(imageLine(bob, IMAGE.name), 'React with 👍');
      const count = imageLine(alice, IMAGE.name).getByRole('button', { name: '👍 1' });
      await count.waitFor();
      await screenshot(alice, 'rich-04-reaction-alice');
      // alice adds hers: 2, and her chip shows as pressed.
      await count.click();
      const two = imageLine(bob, IMAGE.name).getByRole('button', { name: '👍 2' });
      await two.waitFor();
      assert.equal(
        await imageLine(alice, IMAGE.name).getByRole('button', { name: '👍 2' }).getAttribute('aria-pressed'),
        'true',
      );
      await act(imageLine(bob, IMAGE.name), 'React with 👍');
      await imageLine(alice, IMAGE.name).getByRole('button', { name: '👍 1' }).waitFor();
    }));

  test('after a reload, history shows the image, the edit, the reply and the reaction', () =>
    step('reload', async () => {
      await bob.page.reload();
      await bob.page
        .getByRole('status')
        .filter({ hasText: /^Connected$/ })
        .waitFor();
      await bob.page
        .getByRole('list', { name: 'Conversations' })
        .getByRole('button', { name: /alice/ })
        .click();
      await lineWith(bob, 'Look at this red dot').getByText('(edited)').waitFor();
      await lineWith(bob, 'Nice picture!').getByRole('blockquote').waitFor();
      await imageLine(bob, IMAGE.name).getByRole('button', { name: '👍 1' }).waitFor();
    }));

  test('no page errors and no console errors (CSP violations included)', () => {
    const problems = people.flatMap((person) => person.problems.map((p) => `${person.name}: ${p}`));
    assert.deepEqual(problems, []);
  });
});
