/**
 * The web chat page in a real browser (Debian's Chromium driven by playwright-core): the
 * local runtime serves the page built with Vite; alice and bob, each in a browser context
 * of their own, sign in with development tokens, see each other online, chat 1:1, in a
 * group and in a room; carol, an admin, broadcasts. Assertions are on what a person sees.
 * Screenshots: test-artifacts/browser/*.png.
 * Run: npm run test:browser
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime } from '../support/local-runtime.ts';
import {
  ARTIFACTS_DIR,
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

before(async () => {
  // Screenshots of this run only.
  await rm(ARTIFACTS_DIR, { recursive: true, force: true });
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

/** Runs a step; when it fails, every open page is photographed for the report. */
async function step(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (error) {
    for (const person of people) {
      await screenshot(person, `FAILED-${name}-${person.name}`).catch(() => {});
    }
    throw error;
  }
}

describe('web chat page', () => {
  test('an invalid user id is refused with a readable message', () =>
    step('invalid-user', async () => {
      await screenshot(alice, '00-sign-in');
      await alice.page.getByLabel('User id', { exact: true }).fill('#hash-is-reserved');
      await alice.page.getByRole('button', { name: 'Sign in' }).click();
      await alice.page.getByRole('alert').filter({ hasText: 'user id must be' }).waitFor();
      assert.equal(await alice.page.getByRole('status').textContent(), 'Signed out');
    }));

  test('alice and bob sign in and see each other online', () =>
    step('online', async () => {
      await signIn(alice, 'alice');
      await alice.page.getByRole('list', { name: 'Online users' }).getByText('alice (you)').waitFor();
      await signIn(bob, 'bob');
      // bob's list is read after his connection is registered: alice is on it.
      await bob.page.getByRole('button', { name: 'Chat with alice' }).waitFor();
      // alice learns of bob from the online list (presence reaches recent peers only).
      await alice.page.getByRole('button', { name: 'Refresh' }).click();
      await alice.page.getByRole('button', { name: 'Chat with bob' }).waitFor();
      await screenshot(alice, '01-alice-signed-in');
    }));

  test('1:1 messages both ways', () =>
    step('private', async () => {
      await alice.page.getByRole('button', { name: 'Chat with bob' }).click();
      await alice.page.getByRole('heading', { name: 'Chat with bob' }).waitFor();
      await sendInOpenConversation(alice, 'Hi Bob, lunch today?');
      // bob had nothing open: the new conversation opens by itself.
      await bob.page.getByRole('heading', { name: 'Chat with alice' }).waitFor();
      await messageLog(bob).getByText('Hi Bob, lunch today?').waitFor();
      await sendInOpenConversation(bob, 'Sure, 12:30 at the usual place.');
      await messageLog(alice).getByText('Sure, 12:30 at the usual place.').waitFor();
      await screenshot(alice, '02-private-chat-alice');
      await screenshot(bob, '03-private-chat-bob');
    }));

  test('alice creates a group with bob; both write in it', () =>
    step('group', async () => {
      await alice.page.getByLabel('Group name', { exact: true }).fill('Weekend hike');
      await alice.page.getByLabel('Member ids (comma-separated)', { exact: true }).fill('bob');
      await alice.page.getByRole('button', { name: 'Create group' }).click();
      await alice.page.getByRole('heading', { name: 'Group: Weekend hike' }).waitFor();
      await sendInOpenConversation(alice, 'Saturday, 8 am at the trailhead?');
      // bob is in his chat with alice: the group shows up in his list with a badge.
      const groupItem = bob.page
        .getByRole('list', { name: 'Conversations' })
        .getByRole('button', { name: /Weekend hike/ });
      await groupItem.filter({ hasText: '1 new' }).waitFor();
      await screenshot(bob, '04-group-unread-bob');
      await groupItem.click();
      await messageLog(bob).getByText('Saturday, 8 am at the trailhead?').waitFor();
      await sendInOpenConversation(bob, 'Count me in.');
      await messageLog(alice).getByText('Count me in.').waitFor();
    }));

  test('rooms: history on joining, then live messages', () =>
    step('room', async () => {
      await alice.page.getByLabel('Room id', { exact: true }).fill('lobby');
      await alice.page.getByRole('button', { name: 'Join room' }).click();
      await alice.page.getByRole('heading', { name: 'Room: lobby' }).waitFor();
      await sendInOpenConversation(alice, 'Anyone in the lobby?');
      await bob.page.getByLabel('Room id', { exact: true }).fill('lobby');
      await bob.page.getByRole('button', { name: 'Join room' }).click();
      await bob.page.getByRole('heading', { name: 'Room: lobby' }).waitFor();
      // Said before bob joined: read from history.
      await messageLog(bob).getByText('Anyone in the lobby?').waitFor();
      await sendInOpenConversation(bob, 'Here!');
      await messageLog(alice).getByText('Here!').waitFor();
      await screenshot(alice, '05-room-alice');
      await bob.page.getByRole('button', { name: 'Leave room' }).click();
      await bob.page.getByRole('heading', { name: 'No conversation open' }).waitFor();
    }));

  test('an admin broadcasts; everyone online sees it', () =>
    step('broadcast', async () => {
      assert.ok(browser);
      assert.ok(runtime);
      assert.equal(await alice.page.getByRole('heading', { name: 'Broadcast' }).count(), 0);
      const carol = await openPerson(browser, 'carol', `${runtime.httpUrl}/`);
      people.push(carol);
      await signIn(carol, 'carol', { admin: true });
      await carol.page
        .getByLabel('Announcement to everyone online', { exact: true })
        .fill('Maintenance at 18:00 UTC.');
      await carol.page.getByRole('button', { name: 'Send broadcast' }).click();
      for (const person of [alice, bob, carol]) {
        await person.page
          .getByRole('log', { name: 'Announcements' })
          .getByText('Maintenance at 18:00 UTC.')
          .waitFor();
      }
      await carol.page.getByText('Sent to 3 connections.').waitFor();
      await screenshot(carol, '06-admin-broadcast-carol');
      await screenshot(bob, '07-broadcast-bob');
    }));

  test('signing out and in again brings the conversations back (catch-up)', () =>
    step('sign-out', async () => {
      await bob.page.getByRole('button', { name: 'Sign out' }).click();
      await bob.page.getByRole('heading', { name: 'Sign in' }).waitFor();
      assert.equal(await bob.page.getByRole('status').textContent(), 'Signed out');
      await signIn(bob, 'bob');
      await bob.page
        .getByRole('list', { name: 'Conversations' })
        .getByRole('button', { name: /alice/ })
        .click();
      await messageLog(bob).getByText('Hi Bob, lunch today?').waitFor();
      await messageLog(bob).getByText('Sure, 12:30 at the usual place.').waitFor();
    }));

  test('no page errors and no console errors (CSP violations included)', () => {
    const problems = people.flatMap((person) => person.problems.map((p) => `${person.name}: ${p}`));
    // The invalid sign-in answers 400 on purpose; Chromium logs that failed request.
    const unexpected = problems.filter((p) => !/status of 400/.test(p));
    assert.deepEqual(unexpected, []);
  });
});
