/**
 * One message on screen: who and when, the message it replies to (quoted), its text with an
 * "edited" mark, its image (inline) or file (a download link), its reactions with counts,
 * and what this user may do with it (reply, edit their own, react from a small palette).
 */
import type { Attachment } from '../../client/src/index.ts';
import { type ChatLine, reactionList } from './conversations.ts';
import { h, timeElement } from './dom.ts';

/** The palette offered on every message (any emoji others used shows and can be added too). */
export const EMOJI_PALETTE = ['👍', '❤️', '😂', '🎉', '😮'] as const;

export interface LineView {
  readonly own: boolean;
  /** The status under the line (sending, read by …), if any. */
  readonly status: string | null;
  /** The replied message, quoted; undefined when it is not on screen. */
  readonly quote: { from: string; text: string } | undefined;
  /** The actions, or none (a pending or deleted line, or a group the user left). */
  readonly actions?: {
    reply(): void;
    edit(): void;
    /** Adds the emoji, or takes this user's off when `mine`. */
    react(emoji: string, mine: boolean): void;
  };
}

export function lineElement(line: ChatLine, view: LineView): HTMLLIElement {
  const { own, status, actions } = view;
  const classes = ['line', own ? 'own' : '', line.pending ? `pending ${line.pending}` : ''].filter(Boolean);
  const text = line.deleted ? 'message deleted' : line.content;
  const showText = text !== '' && !(line.attachment && text === line.attachment.file_name);
  return h(
    'li',
    { class: classes.join(' '), 'data-id': line.id },
    h('span', { class: 'from' }, own ? 'You' : line.from),
    line.pending ? h('time', {}, '') : timeElement(line.time),
    line.replyTo && quoteElement(view.quote),
    !line.deleted && line.attachment && attachmentElement(line.attachment),
    (showText || !line.attachment || line.deleted) &&
      h(
        'p',
        { class: 'body' },
        h('span', { class: 'text' }, text),
        line.editedAt &&
          !line.deleted &&
          h(
            'span',
            { class: 'edited', title: `Edited ${new Date(line.editedAt).toLocaleString()}` },
            ' (edited)',
          ),
      ),
    !line.deleted && footerElement(line, own, actions),
    status && h('span', { class: 'status' }, status),
  );
}

function quoteElement(quote: LineView['quote']): HTMLElement {
  if (!quote) return h('blockquote', { class: 'quote' }, 'Reply to an earlier message');
  return h(
    'blockquote',
    { class: 'quote', 'aria-label': `Reply to ${quote.from}` },
    h('span', { class: 'quote-from' }, quote.from),
    ` ${quote.text}`,
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** Images inline (linked to the full file); other files as a download link with their size. */
function attachmentElement(attachment: Attachment): HTMLElement {
  const { url, file_name: name, content_type: type, size } = attachment;
  if (type.startsWith('image/'))
    return h(
      'a',
      { class: 'attachment image', href: url, target: '_blank', rel: 'noopener' },
      h('img', { src: url, alt: name, loading: 'lazy' }),
    );
  return h(
    'a',
    { class: 'attachment file', href: url, download: name, rel: 'noopener' },
    `📎 ${name}`,
    h('span', { class: 'size' }, ` (${formatSize(size)})`),
  );
}

/** Reactions on the left, the actions (shown on hover and keyboard focus) on the right. */
function footerElement(line: ChatLine, own: boolean, actions: LineView['actions']): HTMLElement | null {
  const reactions = reactionsElement(line, actions?.react);
  if (!reactions && !actions) return null;
  return h('div', { class: 'footer' }, reactions, actions && actionsElement(line, own, actions));
}

function reactionsElement(line: ChatLine, react: ((emoji: string, mine: boolean) => void) | undefined) {
  const reactions = reactionList(line);
  if (reactions.length === 0) return null;
  return h(
    'div',
    { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
    ...reactions.map(({ emoji, count, mine }) => {
      const chip = h(
        'button',
        {
          type: 'button',
          class: 'reaction',
          'aria-pressed': mine ? 'true' : 'false',
          title: mine ? 'Take your reaction off' : 'React with this too',
        },
        `${emoji} ${count}`,
      );
      if (react) chip.addEventListener('click', () => react(emoji, mine));
      else chip.disabled = true;
      return chip;
    }),
  );
}

function actionsElement(
  line: ChatLine,
  own: boolean,
  actions: NonNullable<LineView['actions']>,
): HTMLElement {
  const button = (label: string, onClick: () => void, attributes: Record<string, string> = {}) => {
    const element = h('button', { type: 'button', ...attributes }, label);
    element.addEventListener('click', onClick);
    return element;
  };
  return h(
    'div',
    { class: 'actions', role: 'group', 'aria-label': 'Message actions' },
    button('Reply', actions.reply),
    own && button('Edit', actions.edit),
    ...EMOJI_PALETTE.map((emoji) => {
      const mine = line.mine?.includes(emoji) ?? false;
      return button(emoji, () => actions.react(emoji, mine), {
        class: 'emoji',
        'aria-label': `React with ${emoji}`,
        'aria-pressed': mine ? 'true' : 'false',
      });
    }),
  );
}
