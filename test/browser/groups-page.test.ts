/**
 * Groups over their whole life and the server's conversation list, in a real browser
 * (Debian's Chromium through playwright-core): alice creates a group, adds bob, both chat,
 * bob's reading shows on alice's side (`mark_read` → `message_read`), alice removes bob,
 * who sees it and cannot post any more (the server refuses him too); a reload keeps the
 * sign-in and shows the server's conversation list with its unread counts, which go when
 * the chat is read. Assertions are on what a person sees.
 * Screenshots: test-artifacts/browser/groups-*.png.
 * Run: npm run test:browser   (or npx tsx --test test/browser/groups-page.test.ts)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import { ChatClient } from '../../client/src/client.ts';
import { ChatRequestError } from '../../client/src/errors.ts';
import type { LocalRuntime } from '../../local/runtime.ts';
import { startTestRuntime, tokenFor } from '../support/local-runtime.ts';
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

before(async () => {
  page = await buildPage();
  runtime = await startTestRuntime({ webRoot: page.dir });
  browser = await launchChromium();
  alice = await openPerson(browser, 'alice', `${runtime.httpUrl}/`);
  bob = await openPerson(browser, 'bob', `${runtime.httpUrl}/`);
  people.push(alice, bob);
  // Deleting a group asks first.
  alice.page.on('dialog', (dialog) => dialog.accept());
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
      await screenshot(person, `FAILED-groups-${name}-${person.name}`).catch(() => {});
    }
    throw error;
  }
}

const conversationList = (person: Person) => person.page.getByRole('list', { name: 'Conversations' });
const conversationItem = (person: Person, name: RegExp) =>
  conversationList(person).getByRole('button', { name });
const memberList = (person: Person) => person.page.getByRole('list', { name: 'Group members' });

describe('groups and the conversation list in the web page', () => {
  test('alice creates a group, opens its members and adds bob', () =>
    step('create', async () => {
      await signIn(alice, 'alice');
      await signIn(bob, 'bob');
      await alice.page.getByLabel('Group name', { exact: true }).fill('Book club');
      await alice.page.getByLabel('Member ids (comma-separated)', { exact: true }).fill('carol');
      await alice.page.getByRole('button', { name: 'Create group' }).click();
      await alice.page.getByRole('heading', { name: 'Group: Book club' }).waitFor();
      await alice.page.getByText('Members (2)').click();
      await memberList(alice).getByText('alice (you)').waitFor();
      await alice.page.getByLabel('Add members (ids, comma-separated)', { exact: true }).fill('bob');
      await alice.page.getByRole('button', { name: 'Add', exact: true }).click();
      await memberList(alice).getByText('bob', { exact: true }).waitFor();
      await alice.page.getByText('Members (3)').waitFor();
      await screenshot(alice, 'groups-01-alice-added-bob');
    }));

  test('bob sees the group by its name at once (group_updated), as a member without admin rights', () =>
    step('bob-added', async () => {
      await conversationItem(bob, /Book club/).click();
      await bob.page.getByRole('heading', { name: 'Group: Book club' }).waitFor();
      await bob.page.getByText(/^Members \(\d\)$/).click();
      await memberList(bob).getByText('bob (you)').waitFor();
      await memberList(bob).getByText('owner').waitFor();
      // Members may leave; only the owner and admins add, remove and rename; only the owner deletes.
      assert.equal(await bob.page.getByRole('button', { name: 'Leave group' }).isVisible(), true);
      assert.equal(await bob.page.getByRole('button', { name: /^Remove / }).count(), 0);
      assert.equal(await bob.page.getByRole('button', { name: 'Delete group' }).isVisible(), false);
      assert.equal(await bob.page.getByRole('button', { name: 'Rename' }).isVisible(), false);
    }));

  test('both chat in the group; bob reading it shows on alice’s side', () =>
    step('chat', async () => {
      await sendInOpenConversation(alice, 'First book: Dune?');
      await messageLog(bob).getByText('First book: Dune?').waitFor();
      await sendInOpenConversation(bob, 'Yes, Dune!');
      await messageLog(alice).getByText('Yes, Dune!').waitFor();
      await sendInOpenConversation(alice, 'Great, see you Friday.');
      await messageLog(bob).getByText('Great, see you Friday.').waitFor();
      // bob has the group on screen: the page marks it read, alice gets message_read.
      await messageLog(alice).getByText('Read by bob').waitFor();
      await screenshot(alice, 'groups-02-chat-alice');
      await screenshot(bob, 'groups-03-chat-bob');
    }));

  test('alice renames the group; bob sees the new name', () =>
    step('rename', async () => {
      await alice.page.getByLabel('Rename group', { exact: true }).fill('Sci-fi club');
      await alice.page.getByRole('button', { name: 'Rename' }).click();
      await alice.page.getByRole('heading', { name: 'Group: Sci-fi club' }).waitFor();
      await bob.page.getByRole('heading', { name: 'Group: Sci-fi club' }).waitFor();
      await conversationItem(bob, /Sci-fi club/).waitFor();
    }));

  test('alice removes bob: bob sees it, the compose box goes, and the server refuses his posts', () =>
    step('remove', async () => {
      assert.ok(runtime);
      await alice.page.getByRole('button', { name: 'Remove bob' }).click();
      await memberList(alice).getByText('bob', { exact: true }).waitFor({ state: 'detached' });
      await bob.page.getByText('You were removed from this group by alice.').waitFor();
      await bob.page.getByLabel('Message', { exact: true }).waitFor({ state: 'hidden' });
      await conversationItem(bob, /Sci-fi club/)
        .getByText('left')
        .waitFor();
      // What was said while he was a member stays on his screen.
      await messageLog(bob).getByText('Yes, Dune!').waitFor();
      await screenshot(bob, 'groups-04-bob-removed');

      // Not only the page: the server refuses bob's posts to the group.
      const id = await conversationItem(alice, /Sci-fi club/).getAttribute('data-id');
      assert.match(id ?? '', /^group_/);
      const client = new ChatClient({
        url: runtime.wsUrl,
        token: () => tokenFor(runtime as LocalRuntime, 'bob'),
        WebSocket,
      });
      try {
        await client.connect();
        await assert.rejects(
          client.sendGroupMessage({ group_id: id ?? '', content: 'still here?' }),
          (error: unknown) => {
            assert.ok(error instanceof ChatRequestError);
            assert.equal(error.code, 1403);
            return true;
          },
        );
      } finally {
        client.close();
      }

      // alice goes on writing: bob gets none of it. A 1:1 message after it arrives, so the
      // group message would have arrived first had it been sent to him.
      await sendInOpenConversation(alice, 'Next time: Foundation.');
      await alice.page.getByLabel('Chat with user id', { exact: true }).fill('bob');
      await alice.page.getByRole('button', { name: 'Open chat' }).click();
      await sendInOpenConversation(alice, 'Sorry Bob, the club is full.');
      await conversationItem(bob, /alice/).getByText('1 new').waitFor();
      assert.equal(await messageLog(bob).getByText('Next time: Foundation.').count(), 0);
    }));

  test('a reload keeps bob signed in and shows the server’s conversation list with unread counts', () =>
    step('reload', async () => {
      await bob.page.reload();
      await bob.page
        .getByRole('status')
        .filter({ hasText: /^Connected$/ })
        .waitFor();
      await bob.page.locator('#whoami').filter({ hasText: 'bob' }).waitFor();
      const chat = conversationItem(bob, /alice/);
      await chat.getByText('1 new').waitFor();
      await chat.getByText('alice: Sorry Bob, the club is full.').waitFor();
      await screenshot(bob, 'groups-05-bob-after-reload');
      // Reading it clears the badge on the server too: another reload shows none.
      await chat.click();
      await messageLog(bob).getByText('Sorry Bob, the club is full.').waitFor();
      await chat.getByText('1 new').waitFor({ state: 'detached' });
      await bob.page.reload();
      const again = conversationItem(bob, /alice/);
      await again.getByText('alice: Sorry Bob, the club is full.').waitFor();
      assert.equal(await again.getByText(/ new$/).count(), 0);
    }));

  test('after a reload alice sees the group by name, newest conversation first, and can delete it', () =>
    step('alice-reload', async () => {
      await alice.page.reload();
      await alice.page
        .getByRole('status')
        .filter({ hasText: /^Connected$/ })
        .waitFor();
      await conversationItem(alice, /Sci-fi club/).waitFor();
      const titles = await conversationList(alice).locator('.title').allTextContents();
      assert.deepEqual(titles.slice(0, 2), ['bob', 'Sci-fi club'], 'the 1:1 chat had the latest message');
      await conversationItem(alice, /Sci-fi club/).click();
      await alice.page.getByText(/^Members \(\d\)$/).click();
      await memberList(alice).getByText('carol', { exact: true }).waitFor();
      await screenshot(alice, 'groups-06-alice-after-reload');
      await alice.page.getByRole('button', { name: 'Delete group' }).click();
      await alice.page.getByText('This group was deleted.').waitFor();
      await alice.page.getByLabel('Message', { exact: true }).waitFor({ state: 'hidden' });
    }));

  test('no page errors and no console errors', () => {
    const problems = people.flatMap((person) => person.problems.map((p) => `${person.name}: ${p}`));
    assert.deepEqual(problems, []);
  });
});
